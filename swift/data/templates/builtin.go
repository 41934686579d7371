package templates

// The built-in templates. Turn formats follow the models' own chat templates (Hugging Face
// tokenizer_config.json chat_template); "{content}" is the turn's text.
var (
	// ChatML is Qwen's format, with Hermes-style tool calls.
	ChatML = &Chat{TemplateName: "chatml",
		System: "<|im_start|>system\n{content}<|im_end|>\n", User: "<|im_start|>user\n{content}<|im_end|>\n",
		Tool:            "<|im_start|>user\n{content}<|im_end|>\n",
		AssistantHeader: "<|im_start|>assistant\n", AssistantFooter: "<|im_end|>", AfterFooter: "\n",
		StopStrings: []string{"<|im_end|>"}, Tools: Hermes{}, ToolJoin: "\n\n"}

	// HermesTools is ChatML with a default system prompt, for tool-calling data.
	HermesTools = &Chat{TemplateName: "hermes",
		System: ChatML.System, User: ChatML.User, Tool: ChatML.Tool,
		AssistantHeader: ChatML.AssistantHeader, AssistantFooter: ChatML.AssistantFooter, AfterFooter: ChatML.AfterFooter,
		DefaultSystem: "You are a helpful assistant.", StopStrings: ChatML.StopStrings, Tools: Hermes{}, ToolJoin: "\n\n"}

	// Llama2 is Llama-2-chat's [INST] format: the system prompt inside the first [INST], BOS
	// before and EOS after every exchange.
	Llama2 = &Chat{TemplateName: "llama-2",
		User: "[INST] {content} [/INST]", FirstUser: "[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{content} [/INST]",
		Tool: "[INST] {content} [/INST]", ContentPrefix: " ", AssistantFooter: " ", EOS: true, BOSEachTurn: true,
		Tools: ReAct{}, ToolJoin: "\n\n"}

	// Llama3 is Llama-3-instruct's header format (BOS from the tokenizer).
	Llama3 = &Chat{TemplateName: "llama-3",
		System:          "<|start_header_id|>system<|end_header_id|>\n\n{content}<|eot_id|>",
		User:            "<|start_header_id|>user<|end_header_id|>\n\n{content}<|eot_id|>",
		Tool:            "<|start_header_id|>ipython<|end_header_id|>\n\n{content}<|eot_id|>",
		AssistantHeader: "<|start_header_id|>assistant<|end_header_id|>\n\n", AssistantFooter: "<|eot_id|>",
		StopStrings: []string{"<|eot_id|>"}, Tools: Hermes{}, ToolJoin: "\n\n"}

	// Default is a plain format for base models without a chat template (ms-swift's default).
	Default = &Chat{TemplateName: "default",
		System: "{content}\n\n", User: "### Human:\n{content}\n\n", Tool: "### Observation:\n{content}\n\n",
		AssistantHeader: "### Assistant:\n", EOS: true, AfterFooter: "\n\n",
		StopStrings: []string{"### Human:"}, Tools: Hermes{}, ToolJoin: "\n\n"}

	// ReActTools is the ReAct agent format: the tools and the Thought/Action/Action Input/
	// Observation protocol in the system prompt; a call ends the turn with "Observation:", the
	// tool's result follows it.
	ReActTools = &Chat{TemplateName: "react",
		System: "{content}\n\n", User: "Question: {content}\n", Tool: " {content}\n",
		EOS: true, AfterFooter: "\n", Tools: ReAct{}, ToolJoin: "\n\n"}

	// CompactTools is a terse format for tiny models (stories260K): one line per turn, tools as
	// signatures, calls as name(arg: value), EOS ending each answer.
	CompactTools = &Chat{TemplateName: "compact",
		System: "{content}\n", User: "User: {content}\n", Tool: "Result: {content}\n",
		AssistantHeader: "Assistant:", ContentPrefix: " ", EOS: true, AfterFooter: "\n",
		Tools: Compact{}, ToolJoin: "\n"}
)

func init() {
	for _, t := range []Template{ChatML, HermesTools, Llama2, Llama3, Default, ReActTools, CompactTools} {
		Register(t)
	}
}
