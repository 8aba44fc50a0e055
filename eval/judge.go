package eval

import "context"

// JudgeScores are a judge model's rubric scores of one article, 1 to 5
// each with a one-sentence reason, and what the judge's calls cost. They
// are opinions, reported beside the measured metrics and never mixed
// into them.
type JudgeScores struct {
	PromptVersion string                `json:"prompt_version"`
	Scores        map[string]JudgeScore `json:"scores"`
	CostUSD       float64               `json:"cost_usd"`
	Tokens        int                   `json:"tokens"`
}

// JudgeScore is one criterion's score and reason.
type JudgeScore struct {
	Score  int    `json:"score"`
	Reason string `json:"reason"`
}

// Judge scores an article with a model.
type Judge interface {
	Score(ctx context.Context, c *Case, o Output) (JudgeScores, error)
}
