package identity

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

// GroupChecker says which of some groups a user belongs to. The Verifier
// asks it when a token left out its groups claim because the user is in too
// many groups for a token to carry (Entra ID's "group overage": the token
// has _claim_names.groups or hasgroups instead).
type GroupChecker interface {
	// MemberOf returns the ids among groupIDs that the user with object id
	// userID belongs to, directly or through nested groups.
	MemberOf(ctx context.Context, userID string, groupIDs []string) ([]string, error)
}

// DefaultGraphEndpoint is Microsoft Graph in the global cloud.
const DefaultGraphEndpoint = "https://graph.microsoft.com"

// graphBatch is the most group ids checkMemberGroups takes in one request.
const graphBatch = 20

// GraphConfig configures a Graph group checker.
type GraphConfig struct {
	// Endpoint is Microsoft Graph's root URL; empty means
	// DefaultGraphEndpoint. The token scope is Endpoint + "/.default".
	Endpoint string
	// Credential gets the service's own token for Graph (its managed
	// identity or service principal, which needs the User.Read.All and
	// GroupMember.Read.All application permissions). Required.
	Credential azcore.TokenCredential
	// HTTPClient sends the requests; nil means http.DefaultClient.
	HTTPClient *http.Client
	// TTL is how long a user's answer is kept; 0 means 10 minutes. Group
	// changes show after at most this long.
	TTL time.Duration
	// MaxUsers bounds the kept answers; 0 means 10,000.
	MaxUsers int
	// Timeout bounds one lookup, retries included (a sign-in waits for
	// it); 0 means 10 seconds.
	Timeout time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// GraphGroups is a GroupChecker over Microsoft Graph's
// POST /v1.0/users/{id}/checkMemberGroups, with the answers kept per user
// for a while (a signed-in person's every request is checked).
type GraphGroups struct {
	cfg      GraphConfig
	pipeline runtime.Pipeline

	mu    sync.Mutex
	cache map[string]graphAnswer
}

type graphAnswer struct {
	key    string // the group ids asked about, joined
	groups []string
	at     time.Time
}

// NewGraphGroups returns a GroupChecker over Microsoft Graph.
func NewGraphGroups(cfg GraphConfig) (*GraphGroups, error) {
	if cfg.Credential == nil {
		return nil, errors.New("identity: Graph groups need a credential")
	}
	if cfg.Endpoint == "" {
		cfg.Endpoint = DefaultGraphEndpoint
	}
	cfg.Endpoint = strings.TrimSuffix(cfg.Endpoint, "/")
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("identity: Graph endpoint %q is not an http(s) URL", cfg.Endpoint)
	}
	if cfg.TTL <= 0 {
		cfg.TTL = 10 * time.Minute
	}
	if cfg.MaxUsers <= 0 {
		cfg.MaxUsers = 10_000
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	opts := &policy.ClientOptions{}
	if cfg.HTTPClient != nil {
		opts.Transport = cfg.HTTPClient
	}
	// Bearer tokens over plain http only for a loopback stand-in (tests).
	bearer := runtime.NewBearerTokenPolicy(cfg.Credential, []string{cfg.Endpoint + "/.default"},
		&policy.BearerTokenOptions{InsecureAllowCredentialWithHTTP: u.Scheme == "http"})
	p := runtime.NewPipeline("newsroom-identity", "v1", runtime.PipelineOptions{PerRetry: []policy.Policy{bearer}}, opts)
	return &GraphGroups{cfg: cfg, pipeline: p, cache: map[string]graphAnswer{}}, nil
}

// MemberOf implements GroupChecker.
func (g *GraphGroups) MemberOf(ctx context.Context, userID string, groupIDs []string) ([]string, error) {
	if userID == "" {
		return nil, errors.New("identity: the token names no user object id (oid) to look up")
	}
	ids := slices.Sorted(slices.Values(groupIDs))
	key := strings.Join(ids, ",")
	now := g.cfg.Now()
	g.mu.Lock()
	if a, ok := g.cache[userID]; ok && a.key == key && now.Sub(a.at) < g.cfg.TTL {
		g.mu.Unlock()
		return a.groups, nil
	}
	g.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, g.cfg.Timeout)
	defer cancel()
	var member []string
	for batch := range slices.Chunk(ids, graphBatch) {
		got, err := g.check(ctx, userID, batch)
		if err != nil {
			return nil, err
		}
		member = append(member, got...)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.cache) >= g.cfg.MaxUsers {
		maps.DeleteFunc(g.cache, func(_ string, a graphAnswer) bool { return now.Sub(a.at) >= g.cfg.TTL })
		for id := range g.cache { // none expired: any one goes
			if len(g.cache) < g.cfg.MaxUsers {
				break
			}
			delete(g.cache, id)
		}
	}
	g.cache[userID] = graphAnswer{key: key, groups: member, at: now}
	return member, nil
}

// check asks Graph about one batch of at most graphBatch groups.
func (g *GraphGroups) check(ctx context.Context, userID string, groupIDs []string) ([]string, error) {
	u := g.cfg.Endpoint + "/v1.0/users/" + url.PathEscape(userID) + "/checkMemberGroups"
	req, err := runtime.NewRequest(ctx, http.MethodPost, u)
	if err != nil {
		return nil, fmt.Errorf("identity: Graph request: %w", err)
	}
	if err := runtime.MarshalAsJSON(req, map[string][]string{"groupIds": groupIDs}); err != nil {
		return nil, fmt.Errorf("identity: Graph request: %w", err)
	}
	resp, err := g.pipeline.Do(req)
	if err != nil {
		return nil, fmt.Errorf("identity: Graph checkMemberGroups: %w", err)
	}
	defer resp.Body.Close()
	if !runtime.HasStatusCode(resp, http.StatusOK) {
		var e struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		_ = runtime.UnmarshalAsJSON(resp, &e)
		return nil, fmt.Errorf("identity: Graph checkMemberGroups: HTTP %d %s: %s", resp.StatusCode, e.Error.Code, e.Error.Message)
	}
	var out struct {
		Value []string `json:"value"`
	}
	if err := runtime.UnmarshalAsJSON(resp, &out); err != nil {
		return nil, fmt.Errorf("identity: Graph checkMemberGroups answer: %w", err)
	}
	// Only what was asked about counts, whatever the answer holds.
	return slices.DeleteFunc(out.Value, func(id string) bool { return !slices.Contains(groupIDs, id) }), nil
}
