package agent

import (
	"context"
	"errors"
	"fmt"

	"github.com/newsroom-dev/newsroom/model"
)

// ErrEmptyAnswer is wrapped when the model wrote nothing twice: a reasoning
// model spent the whole max_completion_tokens on its hidden reasoning.
var ErrEmptyAnswer = errors.New("agent: the model wrote no text")

// complete calls the client once, and once more when the answer is empty:
// an answer that ended "length" with no content and no tool calls (a
// reasoning model's max_completion_tokens all went on reasoning) is not a
// message. The retry gets twice the cap (at most Config.MaxOutputTokens),
// or, when the cap cannot grow, a lower reasoning effort; a second empty
// answer is ErrEmptyAnswer, saying what to raise. Never an empty message.
func (a *Assistant) complete(ctx context.Context, req *model.Request) (*model.Response, error) {
	resp, err := a.cfg.Client.Complete(ctx, req)
	if err != nil || !emptyLength(resp) {
		return resp, err
	}
	first := resp.Usage
	retry := *req
	if grown := a.grownCap(req.MaxTokens); grown > req.MaxTokens {
		retry.MaxTokens = grown
	} else if lower := lowerEffort(req.ReasoningEffort); lower != "" {
		retry.ReasoningEffort = lower
	} else {
		return nil, model.WithSpent(a.emptyError(req, resp, false), first, req)
	}
	resp, err = a.cfg.Client.Complete(ctx, &retry)
	if err != nil {
		return nil, model.WithSpent(err, first, req)
	}
	resp.Usage = first.Add(resp.Usage)
	if emptyLength(resp) {
		return nil, model.WithSpent(a.emptyError(&retry, resp, true), resp.Usage, &retry)
	}
	return resp, nil
}

func emptyLength(r *model.Response) bool {
	return r != nil && r.FinishReason == "length" && r.Content == "" && len(r.ToolCalls) == 0
}

// grownCap is the cap of the retry: twice max, at most MaxOutputTokens
// (the model's largest output) when it is set; 0 (no cap) stays 0.
func (a *Assistant) grownCap(max int) int {
	if max <= 0 {
		return max
	}
	grown := 2 * max
	if limit := a.cfg.MaxOutputTokens; limit > 0 {
		grown = min(grown, limit)
	}
	return grown
}

// lowerEffort is the effort to retry at when the cap cannot grow; every
// reasoning model has low, medium and high.
func lowerEffort(e string) string {
	switch e {
	case "high":
		return "medium"
	case "", "medium":
		return "low"
	}
	return ""
}

func (a *Assistant) emptyError(req *model.Request, resp *model.Response, retried bool) error {
	again := ""
	if retried {
		again = " again after one retry with more room"
	}
	return fmt.Errorf("%w: the answer ended at the output limit (max_completion_tokens %d, %d of them reasoning tokens)%s: raise max_tokens for agent %s (its team file's max_tokens or defaults.max_tokens) or lower its reasoning_effort (now %q)",
		ErrEmptyAnswer, req.MaxTokens, resp.Usage.ReasoningTokens, again, a.cfg.Name, cmpEffort(req.ReasoningEffort))
}

func cmpEffort(e string) string {
	if e == "" {
		return "the model's default"
	}
	return e
}
