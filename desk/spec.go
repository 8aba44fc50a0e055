package desk

// The team file format. These types are the format's one definition: the
// loader walks a file's YAML against them (unknown fields, types, positions),
// and Schema derives the JSON Schema from them, so the two cannot disagree.
// The `doc` tags become the schema's descriptions; `enum` tags its enums.

// Spec is a desk as a team file describes it.
type Spec struct {
	Name        string `yaml:"name" doc:"The desk's name: letters, digits, '_' or '-'. Runs ask for a desk by it." required:"true"`
	Description string `yaml:"description,omitempty" doc:"One line for people choosing a desk (team lists, the web page's picker)."`
	Kind        string `yaml:"kind" doc:"How the next speaker is chosen: in turn, by a model (and the planner's plan), or along a graph's edges." enum:"roundrobin,selector,graph" required:"true"`
	// Agents in order: the round-robin order, the selector's fallback order,
	// the graph's nodes.
	Agents      []AgentSpec    `yaml:"agents" doc:"The participants, in order (round-robin order; the selector's fallback order)." required:"true"`
	Termination *ConditionSpec `yaml:"termination,omitempty" doc:"When the run stops. A graph also stops when no node is left to run."`
	Selector    *SelectorSpec  `yaml:"selector,omitempty" doc:"The speaker selector (kind selector only)."`
	Graph       *GraphSpec     `yaml:"graph,omitempty" doc:"The graph's edges (kind graph only)."`
	Article     *ArticleSpec   `yaml:"article,omitempty" doc:"Which agents' messages make the finished article; default News_Reporter (else the first agent that is not the planner) and Headline_Generator."`
	Defaults    *AgentDefaults `yaml:"defaults,omitempty" doc:"Settings every agent inherits unless it sets its own."`
	Grounding   *bool          `yaml:"grounding,omitempty" doc:"Check the article against the task and the sources before an approval ends the run; default true."`
	Fetch       *FetchSpec     `yaml:"fetch,omitempty" doc:"What fetch_url and read_feed may reach; default only URLs with provenance (the task, the sources, the links of pages the run fetched)."`
}

// FetchSpec says what a desk's fetch tools may reach.
type FetchSpec struct {
	Open       []string `yaml:"open,omitempty" doc:"Hosts any URL of which may be fetched (wire.example; *.wire.example also opens its subdomains)."`
	Provenance string   `yaml:"provenance,omitempty" doc:"on (default): only URLs the run has seen, and the open hosts; off: any URL the network guard lets through (a warning is printed at start)." enum:"on,off"`
}

// AgentSpec is one participant.
type AgentSpec struct {
	Name        string   `yaml:"name" doc:"Unique within the desk: letters, digits, '_' or '-', at most 64 characters." required:"true"`
	Description string   `yaml:"description" doc:"What the agent does; the selector reads it." required:"true"`
	Prompt      string   `yaml:"prompt" doc:"The agent's system prompt, sent as is (no includes, no variables)." required:"true"`
	Deployment  string   `yaml:"deployment,omitempty" doc:"This agent's own deployment (Azure) or model; default the run's deployment."`
	MaxTokens   int      `yaml:"max_tokens,omitempty" doc:"Cap on each reply's tokens (on a reasoning deployment, max_completion_tokens: the hidden reasoning included); default 1000, 1500 on a reasoning deployment." minimum:"1"`
	Temperature *float64 `yaml:"temperature,omitempty" doc:"Sampling temperature; default the service's. Not for reasoning deployments (GPT-5, o3, o4-mini), which take reasoning_effort and verbosity instead." minimum:"0" maximum:"2"`
	// ReasoningEffort and Verbosity go to reasoning deployments only.
	ReasoningEffort string   `yaml:"reasoning_effort,omitempty" doc:"How much a reasoning deployment thinks before it writes (none and minimal exist on some models only); default the model's. Ignored by other deployments." enum:"none,minimal,low,medium,high"`
	Verbosity       string   `yaml:"verbosity,omitempty" doc:"How long a GPT-5 deployment's answers are; default medium. Ignored by other deployments." enum:"low,medium,high"`
	Tools           []string `yaml:"tools,omitempty" doc:"Names of the tools the agent may call."`
	// MaxToolRounds and ReflectOnToolUse tune the agent's tool loop.
	MaxToolRounds    int          `yaml:"max_tool_rounds,omitempty" doc:"Model calls that may ask for tools in one reply; past them the agent answers with text. Default 5." minimum:"1"`
	ReflectOnToolUse bool         `yaml:"reflect_on_tool_use,omitempty" doc:"After one round of tools, one more model call writes the reply from their results (AutoGen's reflect_on_tool_use)."`
	MCP              []MCPSpec    `yaml:"mcp,omitempty" doc:"Model Context Protocol servers whose tools the agent may call, named <server>_<tool>. A server is started once per run and shared by the agents that list it; an entry with only a name uses the server another entry defines."`
	Context          *ContextSpec `yaml:"context,omitempty" doc:"Which part of the conversation the agent sees; default all of it. The task is always kept."`
}

// MCPSpec is a Model Context Protocol server an agent may call: a command
// speaking MCP over its standard input and output, or a streamable HTTP
// URL. An entry with only a name refers to a server another entry defines.
type MCPSpec struct {
	Name     string    `yaml:"name" doc:"The server's name, prefixed to its tool names: a letter, then letters, digits, '_' or '-' (at most 32)." required:"true"`
	Command  string    `yaml:"command,omitempty" doc:"A program speaking MCP over its standard input and output, started without a shell."`
	Args     []string  `yaml:"args,omitempty" doc:"The command's arguments, passed as they are (no shell, no expansion)."`
	URL      string    `yaml:"url,omitempty" doc:"A streamable HTTP endpoint, http:// or https://."`
	Effect   string    `yaml:"effect,omitempty" doc:"read: the server's tools only read; write: they act (write, send, publish) and each call waits for the editor-in-chief's yes. Default: what the server's annotations say (a tool that says it is not read-only acts)." enum:"read,write"`
	Approval string    `yaml:"approval,omitempty" doc:"required: every call of the server's tools waits for the editor-in-chief's yes; none: no call waits, whatever the annotations say." enum:"required,none"`
	Pins     []PinSpec `yaml:"pins,omitempty" doc:"The hash of each of the server's tools (name, description, parameters) when they were pinned (newsroom teams pin); a server whose tools differ is refused."`
}

// PinSpec is the pinned hash of one MCP tool.
type PinSpec struct {
	Tool   string `yaml:"tool" doc:"The tool's name on the server (without the <server>_ prefix)." required:"true"`
	SHA256 string `yaml:"sha256" doc:"Hex SHA-256 of the tool's name, description and parameter schema." required:"true"`
}

// AgentDefaults holds settings every agent inherits.
type AgentDefaults struct {
	Deployment string       `yaml:"deployment,omitempty" doc:"Deployment or model for agents that name none."`
	MaxTokens  int          `yaml:"max_tokens,omitempty" doc:"Cap on each reply for agents that set none." minimum:"1"`
	Context    *ContextSpec `yaml:"context,omitempty" doc:"Context policy for agents that set none."`
}

// ContextSpec is a context policy.
type ContextSpec struct {
	Keep   string `yaml:"keep" doc:"full: everything; last: the last N messages; head_tail: the first head and last N; budget: the newest messages within tokens." enum:"full,last,head_tail,budget" required:"true"`
	Last   int    `yaml:"last,omitempty" doc:"Messages kept from the end (last, head_tail)." minimum:"1"`
	Head   int    `yaml:"head,omitempty" doc:"Messages kept from the start, after the task (head_tail)." minimum:"1"`
	Tokens int    `yaml:"tokens,omitempty" doc:"Token budget for the messages after the task (budget)." minimum:"1"`
}

// ConditionSpec is a stop condition: exactly one of its fields.
type ConditionSpec struct {
	Any         []ConditionSpec  `yaml:"any,omitempty" doc:"Stops when any of these stops."`
	All         []ConditionSpec  `yaml:"all,omitempty" doc:"Stops when all of these stop at the same message."`
	Verdict     *VerdictSpec     `yaml:"verdict,omitempty" doc:"Stops when the agent's newest message gives the verdict: its last non-empty line ends with the word, not negated (see termination.HasVerdict)."`
	TextMention *TextMentionSpec `yaml:"text_mention,omitempty" doc:"Stops when the newest message contains the text (from one of sources, if given)."`
	MaxMessages int              `yaml:"max_messages,omitempty" doc:"Stops after this many messages (the task not counted)." minimum:"1"`
	TokenUsage  *TokenUsageSpec  `yaml:"token_usage,omitempty" doc:"Stops when the run's tokens reach a limit."`
	MaxCostUSD  float64          `yaml:"max_cost_usd,omitempty" doc:"Stops when the run's cost reaches this many US dollars." minimum:"0"`
	Timeout     string           `yaml:"timeout,omitempty" doc:"Stops when the run has taken this long (a Go duration such as 5m)."`
	SourceMatch []string         `yaml:"source_match,omitempty" doc:"Stops when the newest message comes from one of these agents."`
}

// VerdictSpec is the verdict condition.
type VerdictSpec struct {
	Agent string `yaml:"agent" doc:"The agent whose verdict counts." required:"true"`
	Word  string `yaml:"word" doc:"The verdict word, e.g. APPROVE." required:"true"`
}

// TextMentionSpec is the text mention condition.
type TextMentionSpec struct {
	Text    string   `yaml:"text" doc:"The text to look for (case-sensitive)." required:"true"`
	Sources []string `yaml:"sources,omitempty" doc:"Only messages from these agents count; default any agent."`
}

// TokenUsageSpec are token limits; zero means no limit.
type TokenUsageSpec struct {
	Total      int `yaml:"total,omitempty" minimum:"1" doc:"Prompt plus completion tokens."`
	Prompt     int `yaml:"prompt,omitempty" minimum:"1" doc:"Prompt tokens."`
	Completion int `yaml:"completion,omitempty" minimum:"1" doc:"Completion tokens."`
}

// SelectorSpec configures the selector of a selector desk.
type SelectorSpec struct {
	Deployment           string       `yaml:"deployment,omitempty" doc:"The selector's own deployment or model; default the run's deployment."`
	ReasoningEffort      string       `yaml:"reasoning_effort,omitempty" doc:"The selector's reasoning effort on a reasoning deployment; default the model's." enum:"none,minimal,low,medium,high"`
	Verbosity            string       `yaml:"verbosity,omitempty" doc:"The selector's verbosity on a GPT-5 deployment." enum:"low,medium,high"`
	Prompt               string       `yaml:"prompt,omitempty" doc:"Selection prompt; {roles}, {participants} and {history} are filled in. Default the built-in prompt."`
	AllowRepeatedSpeaker bool         `yaml:"allow_repeated_speaker,omitempty" doc:"Whether an agent may speak twice in a row."`
	MaxAttempts          int          `yaml:"max_attempts,omitempty" doc:"Model calls per turn before falling back; default 3." minimum:"1"`
	FollowPlan           *bool        `yaml:"follow_plan,omitempty" doc:"Follow the planner's latest plan without a model call when it names the next speaker; default true when a planner is set."`
	Planner              string       `yaml:"planner,omitempty" doc:"The agent whose numbered plan lines ('1. <agent> : <task>') are followed."`
	Context              *ContextSpec `yaml:"context,omitempty" doc:"Which part of the conversation the selector sees; default all of it."`
}

// GraphSpec is the graph of a graph desk.
type GraphSpec struct {
	Start []string   `yaml:"start,omitempty" doc:"The nodes that run first; default the first agent."`
	Edges []EdgeSpec `yaml:"edges" doc:"Where the run goes after each node." required:"true"`
}

// EdgeSpec is one edge: after From speaks, To runs when the edge's condition
// holds for From's message.
type EdgeSpec struct {
	From      string `yaml:"from" doc:"The agent that just spoke." required:"true"`
	To        string `yaml:"to" doc:"The agent that runs next." required:"true"`
	Verdict   string `yaml:"verdict,omitempty" doc:"Taken only when From's message gives this verdict: its last non-empty line ends with the word, not negated."`
	Mention   string `yaml:"mention,omitempty" doc:"Taken only when From's message contains this text."`
	Otherwise bool   `yaml:"otherwise,omitempty" doc:"Taken only when no other edge from From is taken."`
	Max       int    `yaml:"max,omitempty" doc:"How many times the edge may be taken; required on edges that close a loop." minimum:"1"`
}

// ArticleSpec names the agents whose messages make the article.
type ArticleSpec struct {
	Body      string `yaml:"body,omitempty" doc:"The agent whose last message is the article's body (the writer the grounding check reads and answers); default News_Reporter, else the first agent that is not the planner."`
	Headlines string `yaml:"headlines,omitempty" doc:"The agent whose last message lists the headlines."`
}
