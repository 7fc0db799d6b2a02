/**
 * An error the person in the chat caused and can fix: its message is shown to them as is.
 * Anything else thrown by a handler is logged with its stack and reported in chat only as
 * "internal error (ref …)", so no stack trace or secret reaches a chat.
 */
export class UserError extends Error {
  override readonly name = 'UserError';
}

export function isUserError(e: unknown): e is UserError {
  return e instanceof UserError;
}
