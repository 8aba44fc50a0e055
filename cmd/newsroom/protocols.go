package main

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/newsroom-dev/newsroom/apiclient"
	"github.com/newsroom-dev/newsroom/protocols/a2aserver"
	"github.com/newsroom-dev/newsroom/protocols/agui"
	"github.com/newsroom-dev/newsroom/protocols/mcpserver"
	"github.com/newsroom-dev/newsroom/server"
)

// withProtocols serves the open protocols beside the API, each an adapter
// that calls api (the service's own handler) with the caller's credentials:
// MCP over streamable HTTP at /mcp, with the protected resource metadata of
// MCP's authorization flow; AG-UI at /agui; A2A's JSON-RPC binding at /a2a
// with its agent card at /.well-known/agent-card.json.
func withProtocols(api http.Handler, o *serveOptions, desks []server.TeamInfo) http.Handler {
	client := apiclient.Handler(api)
	mux := http.NewServeMux()
	mcpSrv := mcpserver.New(mcpserver.Config{API: client, Version: buildVersion(), PerRequestAuth: true})
	mux.Handle("/mcp", mcpserver.HTTPHandler(mcpSrv, client, func(r *http.Request) string {
		return baseURL(r) + "/.well-known/oauth-protected-resource/mcp"
	}))
	meta := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(resourceMetadata(baseURL(r), o))
	}
	mux.HandleFunc("GET /.well-known/oauth-protected-resource/mcp", meta)
	mux.HandleFunc("GET /.well-known/oauth-protected-resource", meta)
	mux.Handle("/agui", agui.Handler(client))
	mux.Handle("/a2a", a2aserver.Handler(client))
	mux.Handle("GET /.well-known/agent-card.json", a2aserver.CardHandler(a2aserver.CardConfig{
		Desks: desks, Version: buildVersion(), Issuer: o.oidcIssuer, ClientID: o.oidcClientID}))
	mux.Handle("/", api)
	return mux
}

// resourceMetadata is RFC 9728's protected resource metadata for /mcp: the
// tenant's authorization server when sign-in is configured, API keys as
// bearer tokens otherwise.
func resourceMetadata(base string, o *serveOptions) map[string]any {
	m := map[string]any{
		"resource":                 base + "/mcp",
		"resource_name":            "newsroom",
		"bearer_methods_supported": []string{"header"},
	}
	if o.oidcIssuer != "" {
		m["authorization_servers"] = []string{o.oidcIssuer}
		m["scopes_supported"] = []string{o.oidcClientID + "/.default"}
	}
	return m
}

// baseURL is the scheme and host a request was made to, honouring a
// TLS-terminating proxy's X-Forwarded-Proto.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
