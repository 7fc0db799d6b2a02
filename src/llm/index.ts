/** The governed LLM client: summaries of structured facts, checked, budgeted, audited, with templates as the fallback. */
export { createLlm, NO_KEY_NOTICE, type Llm, type LlmOptions, type LlmOutcome, type Summary, type SummariseRequest } from './client.js';
export { llmConfigSchema, LLM_CONFIG_DEFAULTS, type LlmConfig, type LlmConfigInput } from './config.js';
export { factsSchema, type Facts } from './facts.js';
export type { Usage } from './budget.js';
export { checkText, checkAnswer, type CheckResult } from './check.js';
export { findNumbers, restates, type ShownNumber } from './numbers.js';
export { KNOWN_CURRENCIES } from './symbols.js';
export { loadPrompts, parsePromptFile, defaultPromptsDir, type Prompt, type PromptRegistry } from './prompts.js';
export { renderTemplate } from './template.js';
