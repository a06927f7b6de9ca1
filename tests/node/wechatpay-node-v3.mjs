// wechatpay-node-v3 against the sandbox. Its URLs are hard-coded to https://api.mch.weixin.qq.com; the SDK's own
// hook for the transport, pay.createHttp(service), takes an IPayRequest ({get, post, upload}) and is where the base
// URL is swapped. Its default transport drops the response headers, so this one also returns them (and the raw
// text) for pay.verifySign.
import WxPay from 'wechatpay-node-v3';

import { credentials, lowerCaseKeys, main, readStdinJson, sandboxUrl } from './common.mjs';

const WECHAT = 'https://api.mch.weixin.qq.com';

class SandboxHttp {
  constructor(baseUrl) {
    this.baseUrl = baseUrl;
  }

  async request(method, url, headers, params) {
    const response = await fetch(url.replace(WECHAT, this.baseUrl), {
      method,
      headers,
      body: params === undefined ? undefined : JSON.stringify(params), // the bytes the SDK signed
    });
    const text = await response.text();
    const output = { status: response.status, headers: Object.fromEntries(response.headers), text };
    if (response.ok) {
      output.data = text ? JSON.parse(text) : undefined;
    } else {
      output.error = text;
    }
    return output;
  }

  post(url, params, headers) {
    return this.request('POST', url, headers, params);
  }

  get(url, headers) {
    return this.request('GET', url, headers);
  }

  upload() {
    throw new Error('not used here');
  }
}

function client() {
  const c = credentials();
  const pay = new WxPay({
    appid: c.appids[0],
    mchid: c.mchid,
    publicKey: Buffer.from(c.merchant_certificate_pem), // apiclient_cert.pem
    privateKey: Buffer.from(c.merchant_private_key_pem), // apiclient_key.pem
    serial_no: c.merchant_serial_no,
    key: c.apiv3_key,
  });
  pay.createHttp(new SandboxHttp(sandboxUrl()));
  if (c.mode === 'public-key') {
    // verifySign looks the key up by Wechatpay-Serial; in public-key mode that is the PUB_KEY_ID. (In certificate
    // mode it downloads GET /v3/certificates itself, through the transport above, and decrypts them with `key`.)
    WxPay.certificates[c.public_key_id] = c.platform_public_key_pem;
  }
  return pay;
}

/** The answer's signature, checked by the SDK's verifySign over the exact bytes received. */
async function verified(pay, output) {
  const h = output.headers;
  return pay.verifySign({
    timestamp: h['wechatpay-timestamp'],
    nonce: h['wechatpay-nonce'],
    serial: h['wechatpay-serial'],
    signature: h['wechatpay-signature'],
    body: output.text,
  });
}

async function answer(pay, output) {
  return {
    status: output.status,
    serial: output.headers['wechatpay-serial'] ?? null,
    verified: await verified(pay, output),
    data: output.data ?? (output.error ? JSON.parse(output.error) : null),
  };
}

await main({
  // create a Native order, then query it by out_trade_no
  async pay(outTradeNo, notifyUrl) {
    const pay = client();
    const created = await pay.transactions_native({
      description: 'Node SDK order',
      out_trade_no: outTradeNo,
      notify_url: notifyUrl,
      amount: { total: 100, currency: 'CNY' },
    });
    const queried = await pay.query({ out_trade_no: outTradeNo });
    return { create: await answer(pay, created), query: await answer(pay, queried) };
  },

  async query(outTradeNo) {
    const pay = client();
    return answer(pay, await pay.query({ out_trade_no: outTradeNo }));
  },

  async close(outTradeNo) {
    const pay = client();
    return answer(pay, await pay.close(outTradeNo));
  },

  // a notify as a merchant's handler receives it: verify the headers' signature, then decrypt the resource
  async notify() {
    const pay = client();
    const { headers, body } = await readStdinJson();
    const h = lowerCaseKeys(headers);
    const ok = await pay.verifySign({
      timestamp: h['wechatpay-timestamp'],
      nonce: h['wechatpay-nonce'],
      serial: h['wechatpay-serial'],
      signature: h['wechatpay-signature'],
      body,
    });
    if (!ok) {
      return { verified: false };
    }
    const notice = JSON.parse(body);
    const { ciphertext, associated_data: aad, nonce } = notice.resource;
    return {
      verified: true,
      serial: h['wechatpay-serial'],
      event_type: notice.event_type,
      resource: pay.decipher_gcm(ciphertext, aad, nonce),
    };
  },
});
