package eval

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/newsroom-dev/newsroom/model"
)

// JudgePromptVersion names the judge's prompt (prompts/judge-v1.md); it
// is recorded with every score, so scores of different prompts are not
// compared as if they were one.
const JudgePromptVersion = "judge-v1"

// JudgePrompt is the judge's system prompt.
//
//go:embed prompts/judge-v1.md
var JudgePrompt string

// JudgeScores are a judge model's rubric scores of one article, 1 to 5
// each with a one-sentence reason, and what the judge's calls cost. They
// are opinions, reported beside the measured metrics and never mixed
// into them.
type JudgeScores struct {
	PromptVersion string                `json:"prompt_version"`
	Deployment    string                `json:"deployment,omitempty"`
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

// ModelJudge is a Judge that asks a model (a deployment) through a
// client: the same pipeline as the desks (quota, retries, cost).
type ModelJudge struct {
	Client     model.Client
	Deployment string
}

var _ Judge = (*ModelJudge)(nil)

// ErrJudgeReply is wrapped when the judge's answer is not the JSON asked for.
var ErrJudgeReply = errors.New("eval: the judge's reply is not the scores asked for")

// Score asks the judge once; the call's cost is the judge's, apart from the run's.
func (j *ModelJudge) Score(ctx context.Context, c *Case, o Output) (JudgeScores, error) {
	resp, err := j.Client.Complete(ctx, &model.Request{Model: j.Deployment, Messages: JudgeMessages(c, o),
		Meta: model.Meta{Agent: "News_Judge"}})
	if err != nil {
		return JudgeScores{}, fmt.Errorf("eval: judge: %w", err)
	}
	s, err := ParseJudgeReply(resp.Content)
	if err != nil {
		return JudgeScores{}, err
	}
	return JudgeScores{PromptVersion: JudgePromptVersion, Deployment: j.Deployment, Scores: s,
		CostUSD: model.RoundUSD(resp.Usage.CostUSD), Tokens: resp.Usage.PromptTokens + resp.Usage.CompletionTokens}, nil
}

// JudgeMessages are the judge's conversation: its prompt, then the task,
// the sources and the article.
func JudgeMessages(c *Case, o Output) []model.Message {
	var b strings.Builder
	b.WriteString("Task:\n" + c.Task + "\n\nSources:\n")
	if len(o.Sources) == 0 {
		b.WriteString("(none: the task is the only material)\n")
	}
	for _, s := range o.Sources {
		b.WriteString("[" + strconv.Itoa(s.ID) + "] " + s.Text + "\n")
	}
	b.WriteString("\nArticle:\n" + o.Article.Headline + "\n\n" + o.Article.Body + "\n")
	return []model.Message{{Role: model.RoleSystem, Content: JudgePrompt}, {Role: model.RoleUser, Content: b.String()}}
}

// ParseJudgeReply reads the judge's JSON object (the first {...} of its
// answer) and checks every criterion has a score from 1 to 5 and a reason.
func ParseJudgeReply(text string) (map[string]JudgeScore, error) {
	i, k := strings.Index(text, "{"), strings.LastIndex(text, "}")
	if i < 0 || k < i {
		return nil, fmt.Errorf("%w: no JSON object", ErrJudgeReply)
	}
	var s map[string]JudgeScore
	if err := json.Unmarshal([]byte(text[i:k+1]), &s); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrJudgeReply, err)
	}
	for _, c := range JudgeCriteria {
		v, ok := s[c]
		if !ok || v.Score < 1 || v.Score > 5 || strings.TrimSpace(v.Reason) == "" {
			return nil, fmt.Errorf("%w: %s needs a score from 1 to 5 and a reason", ErrJudgeReply, c)
		}
	}
	for k := range s {
		if !slices.Contains(JudgeCriteria, k) {
			delete(s, k)
		}
	}
	return s, nil
}
