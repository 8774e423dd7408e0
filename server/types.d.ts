// Request augmentation shared by every module: a request id for log correlation.
declare global {
  namespace Express {
    interface Request {
      id: string;
    }
  }
}

export {};
