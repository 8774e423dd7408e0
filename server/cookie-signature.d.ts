// cookie-signature (express-session's signer) ships no types; these are the two functions it exports.
declare module 'cookie-signature' {
  export function sign(value: string, secret: string): string;
  /** The value without its signature, or false when the signature does not match. */
  export function unsign(signed: string, secret: string): string | false;
  const signature: { sign: typeof sign; unsign: typeof unsign };
  export default signature;
}
