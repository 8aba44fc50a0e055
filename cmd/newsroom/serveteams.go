package main

import (
	"fmt"
	"slices"
	"time"

	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/desk"
	"github.com/newsroom-dev/newsroom/server"
	"github.com/newsroom-dev/newsroom/team"
	"github.com/newsroom-dev/newsroom/termination"
)

// deskTeams are the desks of a registry (the shipped ones and --teams-dir)
// as the server's team catalogue: each run's team is built on the shared
// model stack, with the run's budget (or the configured per-run budget)
// enforced by the budget middleware, and a deadline, which also interrupts a
// hung model call.
type deskTeams struct {
	stack   *modelStack
	desks   *desk.Registry
	timeout time.Duration
	// withTools adds the service's tools to a desk's configuration; nil adds none.
	withTools func(desk.Config) desk.Config
}

var (
	_ server.Teams     = deskTeams{}
	_ server.Summaries = deskTeams{}
)

func (d deskTeams) Names() []string { return d.desks.Names() }

func (d deskTeams) Team(name string, o server.TeamOptions) (team.Team, error) {
	dk, ok := d.desks.Get(name)
	if !ok {
		return nil, fmt.Errorf("%w %q", desk.ErrUnknownTeam, name)
	}
	c := desk.Config{Spec: dk.Spec, Client: d.stack.ResumedRunClient(o.BudgetUSD, 0, o.Spent), Model: d.stack.Info.Deployment, Profile: d.stack.Profile,
		ModelName: d.stack.Info.ModelName, MaxMessages: o.MaxMessages, Extra: termination.Or(o.Stop, termination.Timeout(d.timeout))}
	if d.withTools != nil {
		c = d.withTools(c)
	}
	c.NoTools = c.NoTools || o.NoTools
	c.NoGrounding = c.NoGrounding || o.NoGrounding
	return desk.New(c)
}

func (d deskTeams) MaxMessages(name string) int {
	if dk, ok := d.desks.Get(name); ok {
		return dk.Spec.MaxMessages()
	}
	return 0
}

func (d deskTeams) Article(name string, msgs []agent.Message) string {
	dk, ok := d.desks.Get(name)
	if !ok {
		return ""
	}
	if art := dk.Spec.ArticleOf(msgs); art.Body != "" {
		return art.Markdown()
	}
	return ""
}

// Summary is the summary the desk's summary writer wrote, "" for a desk
// without one (server.Summaries).
func (d deskTeams) Summary(name string, msgs []agent.Message) string {
	dk, ok := d.desks.Get(name)
	if !ok || !slices.ContainsFunc(dk.Spec.Agents, func(a desk.AgentSpec) bool { return a.Name == desk.SummaryWriter }) {
		return ""
	}
	return dk.Spec.ArticleOf(msgs).Summary
}

// deskSpecs returns the specs of a registry's desks.
func deskSpecs(r *desk.Registry) []*desk.Spec {
	var out []*desk.Spec
	for _, d := range r.List() {
		out = append(out, d.Spec)
	}
	return out
}
