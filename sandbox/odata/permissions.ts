/**
 * Creatio's "Access to OData" system operation (`CanUseODataService`): a user without it is refused every OData
 * call with 403 and Creatio's own message, whatever their token and their record rights. Mount after
 * `requireBearerToken`, which names the user.
 */
import type { RequestHandler } from 'express';
import { canUseOData } from '../users.ts';
import { principalOf } from './bearer.ts';
import { noODataAccessError, sendError } from './errors.ts';

export const requireODataAccess: RequestHandler = (_req, res, next) => {
  const principal = principalOf(res);
  if (principal && !canUseOData(principal.userId)) {
    sendError(res, noODataAccessError());
    return;
  }
  next();
};
