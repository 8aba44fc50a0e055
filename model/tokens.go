package model

// OpenAI's chat accounting (the "counting tokens" cookbook): every message
// costs a fixed overhead, a name one more token, and the reply is primed with
// a few tokens.
const (
	tokensPerMessage = 3
	tokensPerName    = 1
	tokensPerReply   = 3
)

// PromptTokens returns the prompt tokens the service bills for a chat
// request with these messages, count counting the tokens of a text in the
// model's encoding (a tokenizer's Count), following OpenAI's accounting: 3
// tokens per message plus its role and content, 1 more (plus the name's
// tokens) when the message has a name, and 3 tokens priming the reply.
func PromptTokens(count func(string) int, msgs []Message) int {
	n := tokensPerReply
	for _, m := range msgs {
		n += tokensPerMessage + count(string(m.Role)) + count(m.Content)
		if m.Name != "" {
			n += tokensPerName + count(m.Name)
		}
		for _, tc := range m.ToolCalls {
			n += tokensPerMessage + count(tc.ID) + count(tc.Name) + count(tc.Arguments)
		}
		if m.ToolCallID != "" {
			n += tokensPerName + count(m.ToolCallID)
		}
	}
	return n
}

// ToolTokens returns the prompt tokens tool definitions add to a request
// (count as for PromptTokens): the service bills the definitions' JSON.
func ToolTokens(count func(string) int, tools []Tool) int {
	n := 0
	for _, tl := range tools {
		n += tokensPerMessage + count(tl.Name) + count(tl.Description) + count(string(tl.Parameters))
	}
	return n
}
