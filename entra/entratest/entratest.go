// Package entratest is a managed identity endpoint on loopback, as App
// Service serves it (IDENTITY_ENDPOINT, IDENTITY_HEADER), for tests of
// Entra ID sign-in: the real azidentity credential asks it for tokens, and
// the tests make those tokens the passwords of real PostgreSQL roles and
// Redis ACL users, so a token that signs in proves the whole path.
package entratest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"
)

// Resources of the Azure services (scopes without /.default).
const (
	PostgresResource = "https://ossrdbms-aad.database.windows.net"
	RedisResource    = "https://redis.azure.com"
)

const identityHeader = "identity-header-for-tests"

// Identity is the endpoint. Its tokens are JWT-shaped (unsigned) and carry
// the identity's object id (OID) and a number per resource: Token(r, 1) is
// the first token served for r.
type Identity struct {
	// OID and ClientID are new per Start: MSAL caches managed identity
	// tokens process-wide, by client id and resource.
	OID, ClientID string
	ttl           time.Duration

	mu        sync.Mutex
	count     map[string]int
	resources []string
}

// Start serves an identity whose tokens live ttl and points this test's
// DefaultAzureCredential at it, and at nothing else (the test cannot be
// parallel: it sets the environment).
func Start(t *testing.T, ttl time.Duration) *Identity {
	id := &Identity{OID: uuid(), ClientID: uuid(), ttl: ttl, count: map[string]int{}}
	srv := httptest.NewServer(id)
	t.Cleanup(srv.Close)
	for _, k := range []string{"AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH",
		"AZURE_USERNAME", "AZURE_FEDERATED_TOKEN_FILE", "IDENTITY_SERVER_THUMBPRINT", "MSI_ENDPOINT", "MSI_SECRET", "IMDS_ENDPOINT"} {
		t.Setenv(k, "")
		os.Unsetenv(k) // azidentity tells an empty variable from an unset one
	}
	// As on App Service with the template's user-assigned identity.
	t.Setenv("AZURE_CLIENT_ID", id.ClientID)
	t.Setenv("AZURE_TOKEN_CREDENTIALS", "ManagedIdentityCredential")
	t.Setenv("IDENTITY_ENDPOINT", srv.URL+"/msi/token")
	t.Setenv("IDENTITY_HEADER", identityHeader)
	return id
}

// Token is the nth token served for resource.
func (id *Identity) Token(resource string, n int) string {
	enc := base64.RawURLEncoding
	head := enc.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	claims, _ := json.Marshal(map[string]any{"oid": id.OID, "aud": resource, "n": n})
	return head + "." + enc.EncodeToString(claims) + "." + enc.EncodeToString([]byte("sig"))
}

// ServeHTTP answers a token request.
func (id *Identity) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-IDENTITY-HEADER") != identityHeader {
		http.Error(w, `{"error":"bad header"}`, http.StatusUnauthorized)
		return
	}
	if r.URL.Query().Get("client_id") != id.ClientID {
		http.Error(w, `{"error":"unknown identity"}`, http.StatusBadRequest)
		return
	}
	res := r.URL.Query().Get("resource")
	id.mu.Lock()
	id.count[res]++
	n := id.count[res]
	id.resources = append(id.resources, res)
	id.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"access_token":%q,"expires_on":"%d","resource":%q,"token_type":"Bearer"}`,
		id.Token(res, n), time.Now().Add(id.ttl).Unix(), res)
}

// Served reports whether tok is a token the endpoint served for resource.
func (id *Identity) Served(tok, resource string) bool {
	id.mu.Lock()
	n := id.count[resource]
	id.mu.Unlock()
	for i := 1; i <= n; i++ {
		if tok == id.Token(resource, i) {
			return true
		}
	}
	return false
}

// Asked returns the resources of the token requests so far.
func (id *Identity) Asked() []string {
	id.mu.Lock()
	defer id.mu.Unlock()
	return append([]string(nil), id.resources...)
}

func uuid() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
