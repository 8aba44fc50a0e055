package server

import (
	"net/http"
	"slices"

	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/team"
	"github.com/newsroom-dev/newsroom/termination"
)

// Teams is the catalogue of teams the service runs. The caller provides it
// (cmd/newsroom passes the built-in desks, built on its model stack), so the
// server knows no team by name.
type Teams interface {
	// Names lists the teams clients may ask for; the first is the default.
	Names() []string
	// Team builds the team of one run.
	Team(name string, opts TeamOptions) (team.Team, error)
	// MaxMessages is the team's message cap for a run that asks for none.
	MaxMessages(name string) int
	// Article is the finished article in a run's messages, as Markdown; ""
	// when there is none.
	Article(name string, msgs []agent.Message) string
}

// Summaries is what a Teams may also do: find the summary a desk writes
// (an investigations desk's summary writer) in a run's messages, "" for a
// desk that writes none. A published article's summary is that text.
type Summaries interface {
	Summary(name string, msgs []agent.Message) string
}

// summaryOf is the summary the run's desk wrote, "" when it writes none or
// the Teams does not say (see Summaries).
func (s *Server) summaryOf(name string, msgs []agent.Message) string {
	if sm, ok := s.cfg.Teams.(Summaries); ok {
		return sm.Summary(name, msgs)
	}
	return ""
}

// TeamOptions are a run's settings for Teams.Team.
type TeamOptions struct {
	// RunID is the run the team is built for.
	RunID string
	// MaxMessages caps the run; 0 means the team's default.
	MaxMessages int
	// BudgetUSD is the run's budget; 0 means none.
	BudgetUSD float64
	// Spent is what the run used before this leg (a run resumed after a
	// decision or a crash): it counts against BudgetUSD, which is the whole
	// run's, not each leg's.
	Spent model.Usage
	// Stop is or-ed with the team's own stop conditions: the executor stops
	// the run through it (the cancel button, a shutdown).
	Stop termination.Condition
	// NoTools runs the agents without tools ("tools": false).
	NoTools bool
	// NoGrounding turns the desk's grounding check off ("grounding": false).
	NoGrounding bool
}

func (s *Server) knownTeam(name string) bool { return slices.Contains(s.cfg.Teams.Names(), name) }

// teamNames lists the teams clients may ask for; the first is the default.
func (s *Server) teamNames() []string { return s.cfg.Teams.Names() }

// TeamInfo describes a desk clients may ask for (GET /v1/teams, the web
// page's team picker). Prompts are not part of it.
type TeamInfo struct {
	Name        string   `json:"name"`
	Kind        string   `json:"kind,omitempty"`
	Description string   `json:"description,omitempty"`
	Agents      []string `json:"agents,omitempty"`
	// MaxMessages is the desk's own message cap, 0 when it has none.
	MaxMessages int `json:"max_messages,omitempty"`
}

// teamInfos lists the desks in Config.Teams order, described by
// Config.TeamInfo where it has an entry.
func (s *Server) teamInfos() []TeamInfo {
	names := s.teamNames()
	out := make([]TeamInfo, 0, len(names))
	for _, name := range names {
		info := TeamInfo{Name: name}
		for _, ti := range s.cfg.TeamInfo {
			if ti.Name == name {
				info = ti
			}
		}
		out = append(out, info)
	}
	return out
}

func (s *Server) handleListTeams(w http.ResponseWriter, r *http.Request, _ *store.Key) {
	writeJSON(w, http.StatusOK, map[string]any{"teams": s.teamInfos()})
}
