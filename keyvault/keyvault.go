// Package keyvault resolves Azure Key Vault references in settings, so any
// secret setting may name a Key Vault secret instead of holding it:
//
//	keyvault://VAULT/SECRET[/VERSION]
//	@Microsoft.KeyVault(SecretUri=https://VAULT.vault.azure.net/secrets/NAME[/VERSION])
//	@Microsoft.KeyVault(VaultName=VAULT;SecretName=NAME[;SecretVersion=VERSION])
//
// The last two are App Service's forms, so the same app settings work in and
// out of App Service. Secrets are read with azsecrets and an
// azcore.TokenCredential (the credential the model client uses). Errors name
// the reference and the reason, never a secret value.
package keyvault

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
)

// Errors returned by this package; a Resolve error wraps one of them.
var (
	ErrNotReference     = errors.New("keyvault: not a Key Vault reference")
	ErrInvalidReference = errors.New("keyvault: invalid Key Vault reference")
	ErrNotFound         = errors.New("keyvault: secret not found")
	ErrAccessDenied     = errors.New("keyvault: access denied")
	ErrNoCredential     = errors.New("keyvault: no Azure credential")
	ErrResolve          = errors.New("keyvault: cannot read secret")
)

// DefaultDNSSuffix is the vault DNS suffix of Azure's public cloud.
const DefaultDNSSuffix = "vault.azure.net"

const (
	schemePrefix = "keyvault://"
	appPrefix    = "@microsoft.keyvault("
)

// Options configures a Resolver. The zero value reads from Azure's public
// cloud with azsecrets' default pipeline.
type Options struct {
	// DNSSuffix is appended to a vault name to form its host
	// (VAULT.DNSSuffix); SecretUri hosts must end with it. Empty means
	// DefaultDNSSuffix; sovereign clouds use e.g. "vault.azure.cn".
	DNSSuffix string
	// VaultURL, when set, maps a vault name to its URL instead, e.g. to
	// point keyvault://name/secret at a test server.
	VaultURL func(vault string) string
	// ClientOptions are passed to azsecrets.NewClient (transport, retries,
	// DisableChallengeResourceVerification); nil means the defaults.
	ClientOptions *azsecrets.ClientOptions
}

// Reference is a parsed Key Vault reference.
type Reference struct {
	// VaultURL is the vault's base URL, e.g. https://myvault.vault.azure.net.
	VaultURL string
	Name     string
	// Version is empty for the latest version.
	Version string
}

// String is the reference in keyvault:// form with the vault's host; it is
// what errors show.
func (r Reference) String() string {
	host := r.VaultURL
	if u, err := url.Parse(r.VaultURL); err == nil && u.Host != "" {
		host = u.Host
	}
	s := schemePrefix + host + "/" + r.Name
	if r.Version != "" {
		s += "/" + r.Version
	}
	return s
}

// Error is a failure to resolve one reference. Its message names the
// reference and the reason; the underlying error is reachable with
// errors.As but is not printed.
type Error struct {
	Ref    string
	Reason string
	kind   error
	cause  error
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: %s: %s", e.kind.Error(), e.Ref, e.Reason)
}

// Unwrap returns the package sentinel and the cause.
func (e *Error) Unwrap() []error {
	if e.cause == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.cause}
}

// Resolver resolves references and caches the values for its lifetime (the
// process's, in newsroom). It is safe for concurrent use.
type Resolver struct {
	cred azcore.TokenCredential
	opts Options

	mu      sync.Mutex
	clients map[string]*azsecrets.Client
	values  map[Reference]string
}

// NewResolver returns a Resolver that authenticates with cred.
func NewResolver(cred azcore.TokenCredential, opts Options) *Resolver {
	if opts.DNSSuffix == "" {
		opts.DNSSuffix = DefaultDNSSuffix
	}
	opts.DNSSuffix = strings.ToLower(strings.Trim(opts.DNSSuffix, "."))
	return &Resolver{cred: cred, opts: opts, clients: map[string]*azsecrets.Client{}, values: map[Reference]string{}}
}

// IsReference reports whether s is written as a Key Vault reference (it may
// still be malformed; Resolve says so).
func IsReference(s string) bool {
	s = strings.ToLower(strings.TrimSpace(s))
	return strings.HasPrefix(s, schemePrefix) || strings.HasPrefix(s, appPrefix)
}

// IsReference is the package function IsReference, for callers that hold a
// Resolver behind an interface.
func (r *Resolver) IsReference(s string) bool { return IsReference(s) }

var (
	vaultNameRE  = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{1,22}[A-Za-z0-9]$`)
	secretNameRE = regexp.MustCompile(`^[A-Za-z0-9-]{1,127}$`)
	versionRE    = regexp.MustCompile(`^[A-Za-z0-9]{1,64}$`)
)

// Parse parses a reference without contacting the vault.
func (r *Resolver) Parse(ref string) (Reference, error) {
	s := strings.TrimSpace(ref)
	lower := strings.ToLower(s)
	switch {
	case strings.HasPrefix(lower, schemePrefix):
		return r.parseScheme(s[len(schemePrefix):])
	case strings.HasPrefix(lower, appPrefix):
		if !strings.HasSuffix(s, ")") {
			return Reference{}, invalid(s, "missing closing parenthesis")
		}
		return r.parseApp(s, s[len(appPrefix):len(s)-1])
	default:
		return Reference{}, &Error{Ref: describe(s), Reason: "expected keyvault:// or @Microsoft.KeyVault(...)", kind: ErrNotReference}
	}
}

func (r *Resolver) parseScheme(rest string) (Reference, error) {
	parts := strings.Split(rest, "/")
	if len(parts) < 2 || len(parts) > 3 {
		return Reference{}, invalid(schemePrefix+rest, "want keyvault://VAULT/SECRET[/VERSION]")
	}
	vaultURL, err := r.vaultURL(parts[0])
	if err != nil {
		return Reference{}, invalid(schemePrefix+rest, err.Error())
	}
	ref := Reference{VaultURL: vaultURL, Name: parts[1]}
	if len(parts) == 3 {
		ref.Version = parts[2]
	}
	return ref, checkNames(schemePrefix+rest, ref)
}

func (r *Resolver) parseApp(whole, body string) (Reference, error) {
	fields := map[string]string{}
	for _, kv := range strings.Split(body, ";") {
		if strings.TrimSpace(kv) == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return Reference{}, invalid(whole, fmt.Sprintf("field %q has no '='", strings.TrimSpace(k)))
		}
		fields[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
	}
	if uri, ok := fields["secreturi"]; ok {
		return r.parseSecretURI(whole, uri)
	}
	vault, name := fields["vaultname"], fields["secretname"]
	if vault == "" || name == "" {
		return Reference{}, invalid(whole, "want SecretUri=... or VaultName=...;SecretName=...")
	}
	vaultURL, err := r.vaultURL(vault)
	if err != nil {
		return Reference{}, invalid(whole, err.Error())
	}
	ref := Reference{VaultURL: vaultURL, Name: name, Version: fields["secretversion"]}
	return ref, checkNames(whole, ref)
}

func (r *Resolver) parseSecretURI(whole, uri string) (Reference, error) {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return Reference{}, invalid(whole, "SecretUri must be an https URL")
	}
	host := strings.ToLower(u.Hostname())
	if !strings.HasSuffix(host, "."+r.opts.DNSSuffix) {
		return Reference{}, invalid(whole, fmt.Sprintf("SecretUri host %s is not a vault under %s", host, r.opts.DNSSuffix))
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] != "secrets" {
		return Reference{}, invalid(whole, "SecretUri path must be /secrets/NAME[/VERSION]")
	}
	ref := Reference{VaultURL: "https://" + u.Host, Name: parts[1]}
	if len(parts) == 3 {
		ref.Version = parts[2]
	}
	return ref, checkNames(whole, ref)
}

func (r *Resolver) vaultURL(vault string) (string, error) {
	if r.opts.VaultURL != nil {
		if !vaultNameRE.MatchString(vault) {
			return "", fmt.Errorf("vault name %q is not valid", vault)
		}
		return strings.TrimSuffix(r.opts.VaultURL(vault), "/"), nil
	}
	if strings.Contains(vault, ".") {
		host := strings.ToLower(vault)
		if !strings.HasSuffix(host, "."+r.opts.DNSSuffix) {
			return "", fmt.Errorf("vault host %s is not under %s", host, r.opts.DNSSuffix)
		}
		return "https://" + host, nil
	}
	if !vaultNameRE.MatchString(vault) {
		return "", fmt.Errorf("vault name %q is not valid (3-24 letters, digits and '-')", vault)
	}
	return "https://" + strings.ToLower(vault) + "." + r.opts.DNSSuffix, nil
}

func checkNames(whole string, ref Reference) error {
	if !secretNameRE.MatchString(ref.Name) {
		return invalid(whole, fmt.Sprintf("secret name %q is not valid (letters, digits and '-')", ref.Name))
	}
	if ref.Version != "" && !versionRE.MatchString(ref.Version) {
		return invalid(whole, fmt.Sprintf("secret version %q is not valid", ref.Version))
	}
	return nil
}

func invalid(ref, reason string) error {
	return &Error{Ref: describe(ref), Reason: reason, kind: ErrInvalidReference}
}

// describe shortens what an invalid reference error repeats: a reference
// holds no secret, but a value mistaken for one might.
func describe(s string) string {
	if IsReference(s) && len(s) <= 200 {
		return s
	}
	return fmt.Sprintf("setting (%d characters, not shown)", len(s))
}

// Resolve returns the secret ref names. The value is cached for the
// Resolver's lifetime, the latest version included (restart to pick up a
// rotated secret).
func (r *Resolver) Resolve(ctx context.Context, ref string) (string, error) {
	parsed, err := r.Parse(ref)
	if err != nil {
		return "", err
	}
	return r.ResolveReference(ctx, parsed)
}

// ResolveReference is Resolve for a parsed reference.
func (r *Resolver) ResolveReference(ctx context.Context, ref Reference) (string, error) {
	r.mu.Lock()
	if v, ok := r.values[ref]; ok {
		r.mu.Unlock()
		return v, nil
	}
	r.mu.Unlock()
	if r.cred == nil {
		return "", &Error{Ref: ref.String(), Reason: "no credential configured", kind: ErrNoCredential}
	}
	client, err := r.client(ref.VaultURL)
	if err != nil {
		return "", &Error{Ref: ref.String(), Reason: "cannot create the client", kind: ErrResolve, cause: err}
	}
	resp, err := client.GetSecret(ctx, ref.Name, ref.Version, nil)
	if err != nil {
		return "", classify(ref, err)
	}
	if resp.Value == nil {
		return "", &Error{Ref: ref.String(), Reason: "the vault returned no value", kind: ErrResolve}
	}
	v := *resp.Value
	r.mu.Lock()
	r.values[ref] = v
	r.mu.Unlock()
	return v, nil
}

func classify(ref Reference, err error) error {
	e := &Error{Ref: ref.String(), kind: ErrResolve, cause: err}
	var re *azcore.ResponseError
	switch {
	case errors.As(err, &re):
		e.Reason = fmt.Sprintf("HTTP %d", re.StatusCode)
		if re.ErrorCode != "" {
			e.Reason += " " + re.ErrorCode
		}
		switch re.StatusCode {
		case http.StatusNotFound:
			e.kind = ErrNotFound
		case http.StatusUnauthorized, http.StatusForbidden:
			e.kind = ErrAccessDenied
			e.Reason += " (does the identity have the Key Vault Secrets User role?)"
		}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		e.Reason = err.Error()
	default:
		e.Reason = firstLine(err.Error())
	}
	return e
}

// firstLine keeps error messages of the credential and transport on one
// line; they describe endpoints and causes, never secret values.
func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}

func (r *Resolver) client(vaultURL string) (*azsecrets.Client, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.clients[vaultURL]; ok {
		return c, nil
	}
	c, err := azsecrets.NewClient(vaultURL, r.cred, r.opts.ClientOptions)
	if err != nil {
		return nil, err
	}
	r.clients[vaultURL] = c
	return c, nil
}
