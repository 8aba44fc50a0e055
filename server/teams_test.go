package server

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestListTeams_DescribesTheOfferedDesks(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{teamNames: []string{"roundrobin", "sports"}, cfg: Config{
		TeamInfo: []TeamInfo{{Name: "sports", Kind: "roundrobin", Description: "Match reports.", Agents: []string{"Sports_Writer", "Copy_Chief"}, MaxMessages: 6}},
	}})
	res, body := e.do("GET", "/v1/teams", e.user, "")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", res.StatusCode, body)
	}
	var doc struct{ Teams []TeamInfo }
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	want := []TeamInfo{{Name: "roundrobin"}, {Name: "sports", Kind: "roundrobin", Description: "Match reports.",
		Agents: []string{"Sports_Writer", "Copy_Chief"}, MaxMessages: 6}}
	if diff := cmp.Diff(want, doc.Teams); diff != "" {
		t.Fatalf("teams (-want +got):\n%s", diff)
	}
	if res, _ := e.do("GET", "/v1/teams", "", ""); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("without a key: status %d", res.StatusCode)
	}
}
