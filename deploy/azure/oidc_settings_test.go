package azure_test

import (
	"strings"
	"testing"
)

// TestTemplate_OIDCSettings checks that the template hands sign-in its
// settings: the issuer and client id are the parameters of those names, and
// the client secret never travels as a value: it is a Key Vault reference to
// a secret of the template's own vault (the one the README tells operators
// to set), and empty when sign-in is off.
func TestTemplate_OIDCSettings(t *testing.T) {
	ct := loadTemplate(t)
	for setting, param := range map[string]string{"NEWSROOM_OIDC_ISSUER": "oidcIssuer", "NEWSROOM_OIDC_CLIENT_ID": "oidcClientId"} {
		if p, ok := ct.t.Parameters[param]; !ok || p.Type != "string" {
			t.Errorf("parameter %s: %+v, want a string parameter", param, p)
		}
		if got := ct.canonical(appSetting(t, ct, setting)); got != "parameters('"+param+"')" {
			t.Errorf("app setting %s = %s, want parameters('%s')", setting, got, param)
		}
	}
	for name := range ct.t.Parameters {
		if strings.Contains(strings.ToLower(name), "secret") && strings.Contains(strings.ToLower(name), "oidc") {
			t.Errorf("parameter %s: the client secret must not be a template parameter (it would sit in the deployment's history)", name)
		}
	}

	raw := appSetting(t, ct, "NEWSROOM_OIDC_CLIENT_SECRET")
	e, err := parseExpression(raw)
	if err != nil {
		t.Fatalf("NEWSROOM_OIDC_CLIENT_SECRET: %v", err)
	}
	// if(empty(parameters('oidcClientId')), '', <the reference>)
	if e.Func != "if" || len(e.Args) != 3 || e.Args[0].String() != "empty(parameters('oidcClientId'))" || !e.Args[1].IsStr || e.Args[1].Lit != "" {
		t.Fatalf("NEWSROOM_OIDC_CLIENT_SECRET = %s, want empty without oidcClientId, else a Key Vault reference", raw)
	}
	ref := e.Args[2]
	format, _ := ref.stringArg(0)
	if ref.Func != "format" || len(ref.Args) != 2 || !strings.HasPrefix(format, "@Microsoft.KeyVault(VaultName={0};SecretName=") || !strings.HasSuffix(format, ")") {
		t.Fatalf("NEWSROOM_OIDC_CLIENT_SECRET = %s, want format('@Microsoft.KeyVault(VaultName={0};SecretName=...)', <vault name>)", raw)
	}
	vault := ct.one(t, "Microsoft.KeyVault/vaults")
	if got, want := ref.Args[1].String(), ct.canonical(str(vault.res["name"])); got != want {
		t.Errorf("the reference names vault %s; the template's vault is %s", got, want)
	}
	secret := strings.TrimSuffix(strings.TrimPrefix(format, "@Microsoft.KeyVault(VaultName={0};SecretName="), ")")
	if readme := readRepoFile(t, "deploy/azure/README.md"); !strings.Contains(readme, "az keyvault secret set --vault-name \"$VAULT\" --name "+secret+" ") {
		t.Errorf("the README does not tell operators to set secret %s, which the template reads", secret)
	}
}
