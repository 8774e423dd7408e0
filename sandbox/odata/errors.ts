/**
 * Errors as Creatio answers them. Three shapes reach a client, depending on which layer refused the request, and
 * a client (the BFF passes all of them through unchanged) must read all three:
 *
 *   odata    `{"error":{"code":"","message":"…"}}` — the OData layer: bad query, unknown property, not found.
 *            Creatio leaves `code` empty, so clients must branch on the status, not on the code.
 *   aspnet   `{"Message","ExceptionMessage","ExceptionType","StackTrace"}` — an exception outside the OData
 *            formatter, e.g. the "Access to OData" permission check (403).
 *   routing  `{"Message","MessageDetail"}` — Web API routing found no controller: an entity set that does not exist
 *            (or whose package is not compiled yet) answers 404 this way.
 */
import type { Response } from 'express';

export type ErrorShape = 'odata' | 'aspnet' | 'routing';

export class ODataError extends Error {
  readonly status: number;
  readonly shape: ErrorShape;
  /** aspnet: the .NET exception type; routing: MessageDetail. */
  readonly detail: string | undefined;

  constructor(status: number, message: string, options: { shape?: ErrorShape; detail?: string } = {}) {
    super(message);
    this.name = 'ODataError';
    this.status = status;
    this.shape = options.shape ?? 'odata';
    this.detail = options.detail;
  }
}

export const odataJsonContentType =
  'application/json; odata.metadata=minimal; odata.streaming=true; charset=utf-8';

/** Web API's own errors (aspnet, routing) are plain JSON, not OData JSON. */
const webApiJsonContentType = 'application/json; charset=utf-8';

/** Creatio's message when the user lacks the "Access to OData" system operation (CanUseODataService). */
export const noODataAccessMessage = 'Current user does not have sufficient permissions to use OData';

export function noODataAccessError(): ODataError {
  return new ODataError(403, noODataAccessMessage, {
    shape: 'aspnet',
    detail: 'System.Security.SecurityException',
  });
}

/** The routing 404 for `/0/odata/<name>` when no entity set of that name exists. */
export function unknownEntitySetError(requestUri: string, name: string): ODataError {
  return new ODataError(404, `No HTTP resource was found that matches the request URI '${requestUri}'.`, {
    shape: 'routing',
    detail: `No route data was found for this request. The entity set '${name}' does not exist or is not compiled.`,
  });
}

export interface ErrorAnswer {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

export function toErrorAnswer(error: ODataError): ErrorAnswer {
  switch (error.shape) {
    case 'aspnet':
      return {
        status: error.status,
        contentType: webApiJsonContentType,
        body: JSON.stringify({
          Message: 'An error has occurred.',
          ExceptionMessage: error.message,
          ExceptionType: error.detail ?? 'System.Exception',
          // Creatio sends its server's stack here; a client must never show it to the person.
          StackTrace: '   at Terrasoft.Configuration.OData.ODataAccessCheck.Check() (sandbox)',
        }),
      };
    case 'routing':
      return {
        status: error.status,
        contentType: webApiJsonContentType,
        body: JSON.stringify({ Message: error.message, MessageDetail: error.detail ?? '' }),
      };
    default:
      return {
        status: error.status,
        contentType: odataJsonContentType,
        body: JSON.stringify({ error: { code: '', message: error.message } }),
      };
  }
}

export function sendError(res: Response, error: ODataError): void {
  const answer = toErrorAnswer(error);
  res
    .status(answer.status)
    .set('OData-Version', '4.0')
    .set('Content-Type', answer.contentType)
    .send(Buffer.from(answer.body));
}

export function sendODataError(res: Response, status: number, message: string): void {
  sendError(res, new ODataError(status, message));
}
