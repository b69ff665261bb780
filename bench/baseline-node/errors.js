'use strict';

// The error body of docs/API.md: {"error": {"code", "message"}}; `code` is stable.
const STATUS = {
  unauthorized: 401,
  forbidden: 403,
  invalid: 400,
  not_found: 404,
  conflict: 409,
  too_large: 413,
  internal: 500,
};

class ApiError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
    this.status = STATUS[code] ?? 500;
  }

  toJSON() {
    return { error: { code: this.code, message: this.message } };
  }
}

/** Any thrown value as an ApiError; unexpected ones are logged and hidden. */
function toApiError(err) {
  if (err instanceof ApiError) return err;
  console.error('internal error:', err);
  return new ApiError('internal', 'internal error');
}

module.exports = { ApiError, toApiError };
