// wechatpay-axios-plugin against the sandbox: `baseURL` is an ordinary axios option, and `certs` maps the
// Wechatpay-Serial an answer carries (the platform certificate's serial, or the PUB_KEY_ID in public-key mode) to
// the key that checks it. Every 2xx answer is verified by the plugin before the promise resolves; a bad signature,
// an unknown serial or a skewed timestamp rejects it.
import { Aes, Formatter, Rsa, Wechatpay } from 'wechatpay-axios-plugin';

import { credentials, lowerCaseKeys, main, readStdinJson, sandboxUrl } from './common.mjs';

function platformKey(c) {
  return c.mode === 'public-key'
    ? { [c.public_key_id]: c.platform_public_key_pem }
    : { [c.platform_serial_no]: c.platform_certificate_pem };
}

function client(c) {
  return new Wechatpay({
    baseURL: `${sandboxUrl()}/`,
    mchid: c.mchid,
    serial: c.merchant_serial_no,
    privateKey: c.merchant_private_key_pem,
    certs: platformKey(c),
  });
}

async function answer(call) {
  try {
    const { status, headers, data } = await call;
    return { status, serial: headers['wechatpay-serial'], verified: true, data: data === '' ? null : data };
  } catch (error) {
    if (!error.response) {
      throw error;
    }
    // A failed check rejects with the plugin's own code (EV3_RES_HEADER_SIGNATURE_DIGEST, …_PLATFORM_SERIAL …);
    // a 4xx/5xx answer is passed on unchecked (the plugin verifies 2xx answers only).
    const checked = String(error.code).startsWith('EV3_');
    const { status, data } = error.response;
    return { status, verified: checked ? false : null, code: error.code, data: checked ? null : data };
  }
}

await main({
  // create a Native order, then query it by out_trade_no
  async pay(outTradeNo, notifyUrl) {
    const c = credentials();
    const wxpay = client(c);
    const create = await answer(wxpay.v3.pay.transactions.native.post({
      appid: c.appids[0],
      mchid: c.mchid,
      description: 'Node SDK order',
      out_trade_no: outTradeNo,
      notify_url: notifyUrl,
      amount: { total: 100, currency: 'CNY' },
    }));
    const query = await answer(wxpay.v3.pay.transactions.outTradeNo.$out_trade_no$.get({
      params: { mchid: c.mchid },
      out_trade_no: outTradeNo,
    }));
    return { create, query };
  },

  async query(outTradeNo) {
    const c = credentials();
    return answer(client(c).v3.pay.transactions.outTradeNo.$out_trade_no$.get({
      params: { mchid: c.mchid },
      out_trade_no: outTradeNo,
    }));
  },

  async close(outTradeNo) {
    const c = credentials();
    return answer(client(c).v3.pay.transactions.outTradeNo.$out_trade_no$.close.post(
      { mchid: c.mchid },
      { out_trade_no: outTradeNo },
    ));
  },

  // a notify: the plugin's Rsa.verify over Formatter.response(...) with the key `certs` holds for the serial,
  // then Aes.AesGcm.decrypt with the APIv3 key
  async notify() {
    const c = credentials();
    const { headers, body } = await readStdinJson();
    const h = lowerCaseKeys(headers);
    const key = platformKey(c)[h['wechatpay-serial']];
    if (!key) {
      return { verified: false, unknown_serial: h['wechatpay-serial'] };
    }
    const message = Formatter.response(h['wechatpay-timestamp'], h['wechatpay-nonce'], body);
    if (!Rsa.verify(message, h['wechatpay-signature'], Rsa.from(key, Rsa.KEY_TYPE_PUBLIC))) {
      return { verified: false };
    }
    const notice = JSON.parse(body);
    const { ciphertext, nonce, associated_data: aad } = notice.resource;
    return {
      verified: true,
      serial: h['wechatpay-serial'],
      event_type: notice.event_type,
      resource: JSON.parse(Aes.AesGcm.decrypt(ciphertext, c.apiv3_key, nonce, aad)),
    };
  },
});
