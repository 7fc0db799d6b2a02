export { FakeTelegram, privateChat, type ApiCall, type Fault, type FakeTelegramOptions } from './server.js';
export type { CallbackAnswer, FakeChat, FakeUser, InlineKeyboard, SentMessage } from './state.js';
export { parseTelegramHtml, type Entity } from './html.js';
