package profile

// The built-in profiles, from Azure OpenAI's model and reasoning-model
// documentation (learn.microsoft.com/azure/ai-foundry/openai/concepts/models
// and how-to/reasoning) as of 2026-11: the GPT-5 family's reasoning models
// take 272,000 input tokens and write up to 128,000 (reasoning included),
// with efforts minimal to high and verbosity; GPT-5.1 and later point
// versions have none (their default) instead of minimal; gpt-5-chat is not a
// reasoning model (128,000 tokens, sampling parameters accepted); o3 and
// o4-mini have low, medium and high, no verbosity.
var (
	gpt5 = Profile{Reasoning: true, Efforts: []string{EffortMinimal, EffortLow, EffortMedium, EffortHigh},
		DefaultEffort: EffortMedium, Verbosity: true, ContextWindow: 272000, MaxOutput: 128000}
	gpt51 = Profile{Reasoning: true, Efforts: []string{EffortNone, EffortLow, EffortMedium, EffortHigh},
		DefaultEffort: EffortNone, Verbosity: true, ContextWindow: 272000, MaxOutput: 128000}
	gpt5Chat = Profile{ContextWindow: 128000, MaxOutput: 16384}
	oSeries  = Profile{Reasoning: true, Efforts: []string{EffortLow, EffortMedium, EffortHigh},
		DefaultEffort: EffortMedium, ContextWindow: 200000, MaxOutput: 100000}
	gpt41 = Profile{ContextWindow: 1047576, MaxOutput: 32768}
	gpt4o = Profile{ContextWindow: 128000, MaxOutput: 16384}
)

func builtin() map[string]Profile {
	return map[string]Profile{
		"gpt-5":        gpt5,
		"gpt-5-mini":   gpt5,
		"gpt-5-nano":   gpt5,
		"gpt-5-chat":   gpt5Chat,
		"gpt-5.1":      gpt51,
		"gpt-5.1-chat": gpt5Chat,
		"gpt-5.2":      gpt51,
		"o1":           oSeries,
		"o3":           oSeries,
		"o3-mini":      oSeries,
		"o4-mini":      oSeries,
		"gpt-4.1":      gpt41,
		"gpt-4.1-mini": gpt41,
		"gpt-4.1-nano": gpt41,
		"gpt-4o":       gpt4o,
		"gpt-4o-mini":  gpt4o,
	}
}
