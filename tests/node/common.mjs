// What the SDK scripts share. The test passes the sandbox's base URL and one provider's credentials (as
// GET /_sandbox/api/merchants/{id} returns them) in the environment, a step and its arguments on the command line,
// and, for a notify, {"headers": {...}, "body": "..."} on stdin. Each script prints one line of JSON.

function required(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set`);
  }
  return value;
}

export const sandboxUrl = () => required('SANDBOX_URL').replace(/\/$/, '');
export const credentials = () => JSON.parse(required('SANDBOX_CREDENTIALS'));

export async function readStdinJson() {
  const chunks = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

/** Header names as Node's http server hands them to a handler: lower case. */
export function lowerCaseKeys(headers) {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
}

export function print(result) {
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

/** Run `steps[argv[2]]` with the remaining arguments; an unknown step or a thrown error exits non-zero. */
export async function main(steps) {
  const [step, ...args] = process.argv.slice(2);
  if (!Object.hasOwn(steps, step)) {
    throw new Error(`unknown step ${step}; one of ${Object.keys(steps).join(', ')}`);
  }
  print(await steps[step](...args));
}
