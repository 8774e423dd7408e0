// Request augmentation shared by every module: a request id for log correlation, and the /api session.
import type { SessionData } from 'express-session';

declare global {
  namespace Express {
    interface Request {
      id: string;
      /** Set by the /api session reader (session/api-session.ts) for a signed-in session; pages use req.session. */
      apiSession?: SessionData;
    }
  }
}
