/**
 * OData errors as Creatio's OData 4 endpoint writes them: `{"error":{"code":"","message":"…"}}` with the status in
 * the HTTP status line. Creatio leaves `code` empty, so clients must branch on the status, not on the code.
 */
import type { Response } from 'express';

export class ODataError extends Error {
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.name = 'ODataError';
    this.status = status;
  }
}

export const odataJsonContentType =
  'application/json; odata.metadata=minimal; odata.streaming=true; charset=utf-8';

export function sendODataError(res: Response, status: number, message: string): void {
  res
    .status(status)
    .set('OData-Version', '4.0')
    .type(odataJsonContentType)
    .send(JSON.stringify({ error: { code: '', message } }));
}
