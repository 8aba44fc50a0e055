package server

import (
	"net/http"

	"github.com/newsroom-dev/newsroom/store"
)

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
	out := make([]TeamInfo, 0, len(s.cfg.Teams))
	for _, name := range s.cfg.Teams {
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
