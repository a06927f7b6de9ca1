// alipay-sdk (the official Node SDK, v4) against the sandbox: `gateway` is a constructor option, and
// exec(..., {validateSign: true}) checks each answer's signature over the raw `…_response` text with
// `alipayPublicKey` (a bad one throws). Notifies are checked with checkNotifySignV2 (the values as received).
import { AlipaySdk } from 'alipay-sdk';

import { credentials, main, readStdinJson, sandboxUrl } from './common.mjs';

function client() {
  const c = credentials();
  return new AlipaySdk({
    appId: c.app_id,
    privateKey: c.app_private_key_pem, // PKCS#1 ("RSA PRIVATE KEY"), the SDK's default keyType
    alipayPublicKey: c.alipay_public_key_pem,
    gateway: `${sandboxUrl()}/gateway.do`,
  });
}

async function answer(call) {
  try {
    return { verified: true, data: await call };
  } catch (error) {
    if (error.name === 'AlipayRequestError') {
      return { verified: false, error: error.message.split(',')[0] };
    }
    throw error;
  }
}

await main({
  // create a precreate (QR code) trade, then query it by out_trade_no
  async pay(outTradeNo, notifyUrl) {
    const alipay = client();
    const create = await answer(alipay.exec('alipay.trade.precreate', {
      notify_url: notifyUrl,
      bizContent: { out_trade_no: outTradeNo, total_amount: '1.00', subject: 'Node SDK order' },
    }, { validateSign: true }));
    const query = await answer(alipay.exec('alipay.trade.query', {
      bizContent: { out_trade_no: outTradeNo },
    }, { validateSign: true }));
    return { create, query };
  },

  async query(outTradeNo) {
    return answer(client().exec('alipay.trade.query', {
      bizContent: { out_trade_no: outTradeNo },
    }, { validateSign: true }));
  },

  // a notify: the form a merchant's handler parses, verified by the SDK
  async notify() {
    const { body } = await readStdinJson();
    const form = Object.fromEntries(new URLSearchParams(body));
    return {
      verified: client().checkNotifySignV2(form),
      trade_status: form.trade_status,
      out_trade_no: form.out_trade_no,
      trade_no: form.trade_no,
      total_amount: form.total_amount,
      notify_type: form.notify_type,
    };
  },
});
