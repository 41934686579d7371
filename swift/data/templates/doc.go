// Package templates turns conversations (data.Sample) into model input: a registry of chat
// templates (chatml, llama-2, llama-3, default) and tool-calling templates (hermes, react,
// compact), each rendering the tools into the system prompt and the assistant's calls into text,
// and parsing generated replies back into calls.
//
// Rendering yields Parts — text or a special token, each with a loss weight — and Encode turns
// them into a data.Example whose per-token weights mask everything but the assistant turns
// (the -100 labels of other toolkits), or, with LossScale, train every turn, only the last one,
// or weight the tool-call text more (the SWIFT paper's agent loss scale). EncodePrompt renders
// the same conversation up to the assistant header for generation; its tokens are a prefix of
// the training tokens, so the model is asked exactly what it was taught.
//
// Templates register themselves like database/sql drivers (Register from init, panic on a
// duplicate name, sorted Names); ForModel picks one from a model's tokenizer and type.
package templates
