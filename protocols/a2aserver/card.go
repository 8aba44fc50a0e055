package a2aserver

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/a2aproject/a2a-go/a2a"

	"github.com/newsroom-dev/newsroom/server"
)

// CardConfig describes the agent for its card.
type CardConfig struct {
	// Desks become the card's skills.
	Desks []server.TeamInfo
	// Version is newsroom's version.
	Version string
	// Issuer and ClientID, when sign-in is configured, add the OAuth 2
	// scheme of that tenant (Entra ID) beside API keys.
	Issuer, ClientID string
}

// Card is the agent card of the service at base (its JSON-RPC endpoint is
// base + "/a2a").
func Card(base string, c CardConfig) *a2a.AgentCard {
	card := &a2a.AgentCard{
		Name:               "newsroom",
		Description:        "A news desk of AI agents: a reporter writes from your facts and sources, an editor reviews, and an editor-in-chief may approve before the article is done.",
		URL:                base + "/a2a",
		PreferredTransport: a2a.TransportProtocolJSONRPC,
		ProtocolVersion:    ProtocolVersion,
		Version:            strings.TrimSpace(c.Version),
		Capabilities:       a2a.AgentCapabilities{Streaming: true},
		DefaultInputModes:  []string{"text/plain"},
		DefaultOutputModes: []string{"text/markdown", "text/plain"},
		SecuritySchemes: a2a.NamedSecuritySchemes{
			"apiKey": a2a.HTTPAuthSecurityScheme{Scheme: "bearer", Description: "a newsroom API key (newsroom keys create), as Authorization: Bearer nr_..."},
		},
		Security: []a2a.SecurityRequirements{{"apiKey": {}}},
	}
	if card.Version == "" {
		card.Version = "dev"
	}
	if c.Issuer != "" {
		card.SecuritySchemes["entra"] = oauthScheme(c.Issuer, c.ClientID)
		card.Security = append(card.Security, a2a.SecurityRequirements{"entra": {c.ClientID + "/.default"}})
	}
	for _, d := range c.Desks {
		card.Skills = append(card.Skills, a2a.AgentSkill{
			ID: "desk:" + d.Name, Name: d.Name + " desk",
			Description: strings.TrimSpace(d.Description + " Agents: " + strings.Join(d.Agents, ", ") + "."),
			Tags:        []string{"news", "writing", d.Kind},
			Examples: []string{"Facts: The city council approved a new bike lane on Main Street on Tuesday. Construction starts in March.",
				"Write a brief from these links: https://example.org/press-release"},
			InputModes: []string{"text/plain"}, OutputModes: []string{"text/markdown"},
		})
	}
	return card
}

// oauthScheme is Entra ID's authorization code flow for the tenant of
// issuer (https://login.microsoftonline.com/TENANT/v2.0), or the issuer's
// OpenID Connect discovery for another provider.
func oauthScheme(issuer, clientID string) a2a.SecurityScheme {
	u, err := url.Parse(issuer)
	if err != nil || !strings.HasSuffix(u.Path, "/v2.0") || u.Host != "login.microsoftonline.com" {
		return a2a.OpenIDConnectSecurityScheme{OpenIDConnectURL: strings.TrimRight(issuer, "/") + "/.well-known/openid-configuration"}
	}
	tenant := strings.TrimSuffix(u.Path, "/v2.0")
	base := u.Scheme + "://" + u.Host + tenant + "/oauth2/v2.0"
	return a2a.OAuth2SecurityScheme{
		Description:       "Microsoft Entra ID: sign in as a person with a newsroom role",
		Oauth2MetadataURL: issuer + "/.well-known/openid-configuration",
		Flows: a2a.OAuthFlows{AuthorizationCode: &a2a.AuthorizationCodeOAuthFlow{
			AuthorizationURL: base + "/authorize", TokenURL: base + "/token",
			Scopes: map[string]string{clientID + "/.default": "act as yourself in newsroom"},
		}},
	}
}

// CardHandler serves the card at /.well-known/agent-card.json, its URLs
// built from each request's host.
func CardHandler(c CardConfig) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme := "http"
		if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
			scheme = "https"
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		_ = json.NewEncoder(w).Encode(Card(scheme+"://"+r.Host, c))
	})
}
