package azure_test

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/config"
)

func TestTemplate_Structure(t *testing.T) {
	for _, ct := range loadTemplate(t).all() {
		t.Run(ct.name, func(t *testing.T) { checkStructure(t, ct) })
	}
}

func checkStructure(t *testing.T, ct *checkedTemplate) {
	tpl := ct.t
	t.Run("uses the 2019-04-01 deployment template schema", func(t *testing.T) {
		if tpl.Schema != "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#" {
			t.Errorf("$schema = %q", tpl.Schema)
		}
		if tpl.ContentVersion == "" {
			t.Error("contentVersion is empty")
		}
		for k := range tpl.raw {
			if !slices.Contains([]string{"$schema", "contentVersion", "metadata", "parameters", "variables", "resources", "outputs", "functions", "apiProfile"}, k) {
				t.Errorf("unknown top-level member %q", k)
			}
		}
	})
	t.Run("every resource has a known type, a pinned api version and a name", func(t *testing.T) {
		for _, d := range ct.decls {
			want, ok := apiVersions[d.typ]
			if !ok {
				t.Errorf("%s: type not in the reviewed api version table", d.typ)
				continue
			}
			if got := d.res["apiVersion"]; got != want {
				t.Errorf("%s %v: apiVersion %v, want %s", d.typ, d.segs, got, want)
			}
		}
	})
	t.Run("resources are unique by type, name and scope", func(t *testing.T) {
		seen := map[string]bool{}
		for _, d := range ct.decls {
			k := d.key() + "@" + d.scope
			if seen[k] {
				t.Errorf("duplicate resource %s", k)
			}
			seen[k] = true
		}
	})
	t.Run("every expression calls only known template functions", func(t *testing.T) {
		for s, e := range ct.exprs {
			e.walk(func(x *expr) {
				if x.Func != "" && !armFunctions[x.Func] {
					t.Errorf("unknown function %s in %s", x.Func, s)
				}
				if x.Func == "" && !x.IsStr && !x.IsNum {
					t.Errorf("bare identifier %q in %s", x.Ident, s)
				}
			})
		}
	})
}

func TestTemplate_References(t *testing.T) {
	root := loadTemplate(t)
	if len(root.all()) < 2 {
		t.Fatal("the nested AcrPull template was not found; the loader is off")
	}
	for _, ct := range root.all() {
		// The walk must find the resource ids a template's text holds (a
		// nested template may hold none: the PostgreSQL administrator's
		// names its server by a parameter).
		raw, _ := json.Marshal(ct.t.Resources)
		minIDs := min(1, strings.Count(string(raw), "resourceId("))
		if ct == root {
			minIDs = 20
		}
		t.Run(ct.name, func(t *testing.T) { checkReferences(t, ct, minIDs) })
	}
	t.Run("nested deployments pass exactly the parameters their templates declare", func(t *testing.T) {
		for _, n := range root.all()[1:] {
			passed, _ := path(n.deployment.res, "properties", "parameters").(map[string]any)
			for name := range passed {
				if _, ok := n.t.Parameters[name]; !ok {
					t.Errorf("%s: passes undeclared parameter %q", n.name, name)
				}
			}
			for name, p := range n.t.Parameters {
				if _, ok := passed[name]; !ok && p.DefaultValue == nil {
					t.Errorf("%s: required parameter %q is not passed", n.name, name)
				}
			}
		}
	})
}

func checkReferences(t *testing.T, ct *checkedTemplate, minIDs int) {
	tpl := ct.t
	usedParams := map[string]bool{}
	usedVars := map[string]bool{}
	var refErrs []string
	for s, e := range ct.exprs {
		e.walk(func(x *expr) {
			switch x.Func {
			case "parameters", "variables":
				name, ok := x.stringArg(0)
				if !ok {
					refErrs = append(refErrs, fmt.Sprintf("%s: %s() with a computed name", s, x.Func))
					return
				}
				if x.Func == "parameters" {
					if _, ok := tpl.Parameters[name]; !ok {
						refErrs = append(refErrs, fmt.Sprintf("%s: no parameter %q", s, name))
					}
					usedParams[name] = true
				} else {
					if _, ok := tpl.Variables[name]; !ok {
						refErrs = append(refErrs, fmt.Sprintf("%s: no variable %q", s, name))
					}
					usedVars[name] = true
				}
			}
		})
	}
	t.Run("every parameters() and variables() reference resolves", func(t *testing.T) {
		for _, e := range refErrs {
			t.Error(e)
		}
	})
	t.Run("every parameter is used", func(t *testing.T) {
		for name := range tpl.Parameters {
			if !usedParams[name] {
				t.Errorf("parameter %q is never used", name)
			}
		}
	})
	t.Run("every variable is used", func(t *testing.T) {
		for name := range tpl.Variables {
			if !usedVars[name] {
				t.Errorf("variable %q is never used", name)
			}
		}
	})
	t.Run("every resource id names a resource of the template", func(t *testing.T) {
		n := 0
		for s, e := range ct.exprs {
			e.walk(func(x *expr) {
				switch x.Func {
				case "resourceId", "extensionResourceId", "subscriptionResourceId":
					n++
					if _, _, err := ct.resolveID(x); err != nil {
						t.Errorf("in %s: %v", s, err)
					}
				}
			})
		}
		if n < minIDs {
			t.Errorf("only %d resource ids checked; the walk missed the template", n)
		}
	})
	t.Run("every dependsOn entry names a resource of the template", func(t *testing.T) {
		for _, d := range ct.decls {
			deps, _ := d.res["dependsOn"].([]any)
			for _, dep := range deps {
				s, _ := dep.(string)
				e, ok := ct.exprs[s]
				if !ok {
					t.Errorf("%s %v: dependsOn %q is not a resource id expression", d.typ, d.segs, s)
					continue
				}
				typ, segs, err := ct.resolveID(e)
				if err != nil {
					t.Errorf("%s %v: dependsOn: %v", d.typ, d.segs, err)
					continue
				}
				if typ == d.typ && slices.Equal(segs, d.segs) {
					t.Errorf("%s %v depends on itself", d.typ, d.segs)
				}
			}
		}
	})
	t.Run("every reference() names a template resource at its own api version", func(t *testing.T) {
		for s, e := range ct.exprs {
			e.walk(func(x *expr) {
				if x.Func != "reference" {
					return
				}
				if len(x.Args) != 2 {
					t.Errorf("%s: reference() without an api version", s)
					return
				}
				typ, _, err := ct.resolveID(x.Args[0])
				if err != nil {
					t.Errorf("%s: %v", s, err)
					return
				}
				if v, _ := x.stringArg(1); v != apiVersions[typ] {
					t.Errorf("%s: reference api version %s, the resource uses %s", s, v, apiVersions[typ])
				}
			})
		}
	})
	t.Run("extension resources name a declared scope and depend on it", func(t *testing.T) {
		for _, d := range ct.decls {
			if d.scope == "" {
				continue
			}
			parts := strings.Split(d.scope, "|")
			if externalTypes[parts[0]] {
				if _, ok := d.res["condition"]; !ok && !ct.conditional() {
					t.Errorf("%s on external %s must be conditional", d.typ, parts[0])
				}
				continue
			}
			target, ok := ct.find(parts[0], parts[1:])
			if !ok {
				t.Errorf("%s %v: scope %s is not declared", d.typ, d.segs, d.scope)
				continue
			}
			if !ct.dependsOn(d, target) {
				t.Errorf("%s %v does not depend on its scope %s", d.typ, d.segs, d.scope)
			}
		}
	})
	t.Run("child resources depend on their parent", func(t *testing.T) {
		for _, d := range ct.decls {
			if strings.Count(d.typ, "/") < 2 || d.scope != "" {
				continue
			}
			parentType := d.typ[:strings.LastIndex(d.typ, "/")]
			parent, ok := ct.find(parentType, d.segs[:len(d.segs)-1])
			if !ok && ct.parent != nil {
				// A nested deployment's child of an outer resource (its name
				// needs a value known only while deploying): the deployment
				// must depend on the parent.
				segs := make([]string, len(d.segs)-1)
				for i, seg := range d.segs[:len(d.segs)-1] {
					segs[i] = seg
					for name := range ct.t.Parameters {
						if v := ct.passed(name); v != "" {
							segs[i] = strings.ReplaceAll(segs[i], "parameters("+quote(name)+")", v)
						}
					}
				}
				if outer, found := ct.parent.find(parentType, segs); found {
					if !ct.parent.dependsOn(ct.deployment, outer) {
						t.Errorf("%s %v: the deployment %v does not depend on the parent %v", d.typ, d.segs, ct.deployment.segs, segs)
					}
					continue
				}
			}
			if !ok {
				t.Errorf("%s %v: parent %s %v is not declared", d.typ, d.segs, parentType, d.segs[:len(d.segs)-1])
				continue
			}
			if !ct.dependsOn(d, parent) {
				t.Errorf("%s %v does not depend on its parent", d.typ, d.segs)
			}
		}
	})
}

func TestTemplate_Parameters(t *testing.T) {
	ct := loadTemplate(t)
	data, err := os.ReadFile("azuredeploy.parameters.json")
	if err != nil {
		t.Fatal(err)
	}
	var pf struct {
		Schema     string                    `json:"$schema"`
		Parameters map[string]map[string]any `json:"parameters"`
	}
	if err := json.Unmarshal(data, &pf); err != nil {
		t.Fatalf("azuredeploy.parameters.json is not valid JSON: %v", err)
	}
	if pf.Schema != "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#" {
		t.Errorf("parameters file $schema = %q", pf.Schema)
	}
	t.Run("the parameters file sets only template parameters, with allowed values", func(t *testing.T) {
		for name, v := range pf.Parameters {
			p, ok := ct.t.Parameters[name]
			if !ok {
				t.Errorf("parameters file sets %q, which the template does not declare", name)
				continue
			}
			if len(p.AllowedValues) > 0 && !slices.Contains(p.AllowedValues, v["value"]) {
				t.Errorf("parameter %q = %v, not one of %v", name, v["value"], p.AllowedValues)
			}
		}
	})
	t.Run("every required parameter is supplied, the secret only by deploy.sh", func(t *testing.T) {
		for name, p := range ct.t.Parameters {
			_, inFile := pf.Parameters[name]
			switch {
			case p.Type == "securestring" || p.Type == "secureObject":
				if inFile {
					t.Errorf("secure parameter %q is set in the parameters file", name)
				}
				if p.DefaultValue != nil && p.DefaultValue != "" {
					t.Errorf("secure parameter %q has a default value other than empty", name)
				}
			case p.DefaultValue == nil && !inFile:
				t.Errorf("required parameter %q is not in the parameters file", name)
			}
		}
		if ct.t.Parameters["databaseUrl"].Type != "securestring" {
			t.Error("databaseUrl must be a securestring")
		}
		// Empty by default: with deployPostgres no secret is needed (deploy.sh
		// requires it otherwise), and the Key Vault secret is only made then.
		if v := ct.t.Parameters["databaseUrl"].DefaultValue; v != "" {
			t.Errorf("databaseUrl default %v, want empty", v)
		}
	})
	t.Run("no secure parameter reaches an output", func(t *testing.T) {
		out, _ := json.Marshal(ct.t.Outputs)
		for name, p := range ct.t.Parameters {
			if strings.HasPrefix(strings.ToLower(p.Type), "secure") && strings.Contains(string(out), "parameters('"+name+"')") {
				t.Errorf("output uses secure parameter %q", name)
			}
		}
		if _, ok := ct.t.Outputs["webAppUrl"]; !ok {
			t.Error("no webAppUrl output, which deploy.sh prints")
		}
	})
	t.Run("the model deployment type and capacity are parameters", func(t *testing.T) {
		dep := ct.one(t, "Microsoft.CognitiveServices/accounts/deployments")
		if got := path(dep.res, "sku", "name"); got != "[parameters('openAiDeploymentSku')]" {
			t.Errorf("deployment sku name = %v", got)
		}
		if got := path(dep.res, "sku", "capacity"); got != "[parameters('openAiCapacity')]" {
			t.Errorf("deployment capacity = %v", got)
		}
		allowed := ct.t.Parameters["openAiDeploymentSku"].AllowedValues
		if !slices.Equal(allowed, []any{"Standard", "GlobalStandard"}) {
			t.Errorf("openAiDeploymentSku allowed values = %v", allowed)
		}
		if ct.t.Parameters["openAiCapacity"].Type != "int" {
			t.Error("openAiCapacity is not an int")
		}
	})
}

func TestTemplate_Security(t *testing.T) {
	ct := loadTemplate(t)
	identity := ct.one(t, "Microsoft.ManagedIdentity/userAssignedIdentities")
	vault := ct.one(t, "Microsoft.KeyVault/vaults")
	openai := ct.one(t, "Microsoft.CognitiveServices/accounts")
	site := ct.one(t, "Microsoft.Web/sites")

	t.Run("Azure OpenAI is private and takes Entra ID tokens only", func(t *testing.T) {
		want := map[string]any{
			"kind":                                     "OpenAI",
			"sku.name":                                 "S0",
			"properties.publicNetworkAccess":           "Disabled",
			"properties.disableLocalAuth":              true,
			"properties.networkAcls.defaultAction":     "Deny",
			"properties.customSubDomainName":           "[variables('openAiName')]",
			"properties.restrictOutboundNetworkAccess": true,
		}
		checkProps(t, openai.res, want)
	})
	t.Run("Key Vault uses RBAC, soft delete and purge protection, and is private", func(t *testing.T) {
		checkProps(t, vault.res, map[string]any{
			"properties.enableRbacAuthorization":      true,
			"properties.enableSoftDelete":             true,
			"properties.enablePurgeProtection":        true,
			"properties.publicNetworkAccess":          "Disabled",
			"properties.networkAcls.defaultAction":    "Deny",
			"properties.enabledForTemplateDeployment": false,
		})
		if path(vault.res, "properties", "accessPolicies") != nil {
			t.Error("vault has access policies; RBAC only")
		}
	})
	t.Run("the web app is HTTPS only with TLS 1.2, no FTP or basic auth, and health-checked", func(t *testing.T) {
		checkProps(t, site.res, map[string]any{
			"properties.httpsOnly":                         true,
			"properties.siteConfig.minTlsVersion":          "1.2",
			"properties.siteConfig.scmMinTlsVersion":       "1.2",
			"properties.siteConfig.ftpsState":              "Disabled",
			"properties.siteConfig.alwaysOn":               true,
			"properties.siteConfig.healthCheckPath":        "/readyz",
			"properties.siteConfig.vnetRouteAllEnabled":    true,
			"properties.siteConfig.remoteDebuggingEnabled": false,
			"identity.type":                                "UserAssigned",
		})
		if got, _ := path(site.res, "properties", "keyVaultReferenceIdentity").(string); !ct.refersTo(got, identity) {
			t.Errorf("keyVaultReferenceIdentity = %q, want the user-assigned identity", got)
		}
		ids, _ := path(site.res, "identity", "userAssignedIdentities").(map[string]any)
		if len(ids) != 1 {
			t.Fatalf("web app has %d user-assigned identities, want 1", len(ids))
		}
		for k := range ids {
			if !ct.refersTo(k, identity) {
				t.Errorf("web app identity %q is not the template's identity", k)
			}
		}
		// The app runs as site containers (its image and the collector
		// sidecar): TestTemplate_Operations checks the main container runs
		// the containerImage parameter.
		if fx, _ := path(site.res, "properties", "siteConfig", "linuxFxVersion").(string); fx != "sitecontainers" {
			t.Errorf("linuxFxVersion = %q, want sitecontainers", fx)
		}
		policies := map[string]bool{}
		for _, d := range ct.ofType("Microsoft.Web/sites/basicPublishingCredentialsPolicies") {
			if path(d.res, "properties", "allow") == false {
				policies[d.segs[len(d.segs)-1]] = true
			}
		}
		if !policies["'ftp'"] || !policies["'scm'"] {
			t.Errorf("basic publishing credentials not disabled for both ftp and scm: %v", policies)
		}
	})
	t.Run("the web app joins the delegated subnet and the private endpoints sit apart", func(t *testing.T) {
		subnet, _ := path(site.res, "properties", "virtualNetworkSubnetId").(string)
		e, ok := ct.exprs[subnet]
		if !ok || e.Func != "resourceId" {
			t.Fatalf("virtualNetworkSubnetId = %q", subnet)
		}
		vnet := ct.one(t, "Microsoft.Network/virtualNetworks")
		subnets := map[string]map[string]any{}
		for _, s := range ct.subnets(vnet) {
			name, _ := ct.literal(s["name"].(string))
			subnets[name] = s
			nsg, _ := path(s, "properties", "networkSecurityGroup", "id").(string)
			found := false
			for _, d := range ct.ofType("Microsoft.Network/networkSecurityGroups") {
				found = found || ct.refersTo(nsg, d)
			}
			if !found {
				t.Errorf("subnet %s has no NSG of the template", name)
			}
		}
		app, ok := subnets["app-integration"]
		if !ok {
			t.Fatalf("no app-integration subnet; subnets: %v", keys(subnets))
		}
		if _, ok := subnets["private-endpoints"]; !ok {
			t.Fatalf("no private-endpoints subnet; subnets: %v", keys(subnets))
		}
		if ct.canonical(app["name"].(string)) != e.Args[2].String() {
			t.Errorf("web app subnet %s is not app-integration", e.Args[2])
		}
		dels, _ := path(app, "properties", "delegations").([]any)
		if len(dels) != 1 || path(dels[0], "properties", "serviceName") != "Microsoft.Web/serverFarms" {
			t.Errorf("app-integration delegations = %v, want Microsoft.Web/serverFarms", dels)
		}
	})
	t.Run("private endpoints and DNS zones cover Azure OpenAI and Key Vault", func(t *testing.T) {
		want := map[string]struct {
			target declared
			group  string
		}{
			"privatelink.openai.azure.com":    {openai, "account"},
			"privatelink.vaultcore.azure.net": {vault, "vault"},
		}
		zones := map[string]declared{}
		for _, z := range ct.ofType("Microsoft.Network/privateDnsZones") {
			name, ok := ct.literal(z.res["name"].(string))
			if !ok {
				t.Fatalf("zone name %v is not a literal", z.res["name"])
			}
			zones[name] = z
		}
		for zoneName, w := range want {
			zone, ok := zones[zoneName]
			if !ok {
				t.Errorf("no private DNS zone %s", zoneName)
				continue
			}
			linked := false
			for _, l := range ct.ofType("Microsoft.Network/privateDnsZones/virtualNetworkLinks") {
				linked = linked || (l.segs[0] == zone.segs[0] && path(l.res, "properties", "registrationEnabled") == false)
			}
			if !linked {
				t.Errorf("zone %s has no VNet link", zoneName)
			}
			var pe *declared
			for _, d := range ct.ofType("Microsoft.Network/privateEndpoints") {
				conns, _ := path(d.res, "properties", "privateLinkServiceConnections").([]any)
				for _, c := range conns {
					id, _ := path(c, "properties", "privateLinkServiceId").(string)
					groups, _ := path(c, "properties", "groupIds").([]any)
					if ct.refersTo(id, w.target) && slices.Equal(groups, []any{w.group}) {
						pe = &d
					}
				}
			}
			if pe == nil {
				t.Errorf("no private endpoint with group %s for %s", w.group, w.target.typ)
				continue
			}
			grouped := false
			for _, g := range ct.ofType("Microsoft.Network/privateEndpoints/privateDnsZoneGroups") {
				if g.segs[0] != pe.segs[0] {
					continue
				}
				cfgs, _ := path(g.res, "properties", "privateDnsZoneConfigs").([]any)
				for _, c := range cfgs {
					id, _ := path(c, "properties", "privateDnsZoneId").(string)
					grouped = grouped || ct.refersTo(id, zone)
				}
			}
			if !grouped {
				t.Errorf("private endpoint for %s has no zone group on %s", w.target.typ, zoneName)
			}
		}
	})
	t.Run("the identity holds exactly the least-privilege roles, each on its one resource", func(t *testing.T) {
		got := map[string]string{}
		for _, c := range ct.all() {
			for _, ra := range c.ofType("Microsoft.Authorization/roleAssignments") {
				def, _ := path(ra.res, "properties", "roleDefinitionId").(string)
				e := c.exprs[def]
				if e == nil || e.Func != "subscriptionResourceId" {
					t.Fatalf("%s: roleDefinitionId %q is not a subscriptionResourceId", c.name, def)
				}
				roleExpr := e.Args[1]
				guid := roleExpr.Lit
				if roleExpr.Func == "variables" {
					name, _ := roleExpr.stringArg(0)
					guid, _ = c.t.Variables[name].(string)
				}
				// Nested templates receive the identity as parameters; compare what the parent passes.
				principal, _ := path(ra.res, "properties", "principalId").(string)
				if p := c.outerText(principal); !strings.Contains(p, idOf(identity)) || !strings.HasSuffix(p, ".principalId") {
					t.Errorf("%s: role %s is granted to %s, not the identity's principalId", c.name, guid, p)
				}
				if path(ra.res, "properties", "principalType") != "ServicePrincipal" {
					t.Errorf("%s: role %s: principalType is not ServicePrincipal", c.name, guid)
				}
				if n := c.outerText(ra.res["name"].(string)); !strings.Contains(n, idOf(identity)) {
					t.Errorf("%s: role assignment name %s does not derive from the identity", c.name, n)
				}
				if ra.scope == "" {
					t.Errorf("%s: role assignment %s is scoped to the whole resource group", c.name, ra.segs[0])
				}
				got[guid] = strings.SplitN(ra.scope, "|", 2)[0]
			}
		}
		want := map[string]string{
			roleOpenAIUser:      "Microsoft.CognitiveServices/accounts",
			roleKeyVaultSecrets: "Microsoft.KeyVault/vaults",
			roleAcrPull:         "Microsoft.ContainerRegistry/registries",
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("role assignments (role -> scope type) = %v, want %v", got, want)
		}
		for _, broad := range []string{roleOwner, roleContributor, roleOpenAIContrib, roleCognitiveContrib} {
			if _, ok := got[broad]; ok {
				t.Errorf("broad role %s granted", broad)
			}
		}
	})
	t.Run("app settings point at the endpoint and hold no secret", func(t *testing.T) {
		settings := appSettings(site)
		// The GPT-5 family by default, on the v1 API, the model passed to the app.
		for param, want := range map[string]string{"openAiModelName": "gpt-5-mini", "openAiDeploymentName": "gpt-5-mini",
			"openAiModelVersion": "2025-08-07", "openAiApiVersion": "v1", "openAiDeploymentSku": "GlobalStandard"} {
			if got := ct.t.Parameters[param].DefaultValue; got != want {
				t.Errorf("parameter %s defaults to %v, want %s", param, got, want)
			}
		}
		if got := settings["AZURE_OPENAI_MODEL"]; got != "[parameters('openAiModelName')]" {
			t.Errorf("AZURE_OPENAI_MODEL = %q, want the openAiModelName parameter", got)
		}
		for _, name := range []string{"AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_DEPLOYMENT", "AZURE_OPENAI_MODEL", "OPENAI_API_VERSION", "AZURE_CLIENT_ID",
			"APPLICATIONINSIGHTS_CONNECTION_STRING", "OTEL_SERVICE_NAME", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_RESOURCE_ATTRIBUTES",
			"NEWSROOM_DATABASE_URL", "NEWSROOM_DAILY_BUDGET_USD", "WEBSITES_PORT"} {
			if _, ok := settings[name]; !ok {
				t.Errorf("app setting %s missing", name)
			}
		}
		if got := settings["NEWSROOM_OIDC_GRAPH_GROUPS"]; got != "[parameters('oidcGraphGroups')]" ||
			ct.t.Parameters["oidcGraphGroups"].DefaultValue != "false" {
			t.Errorf("NEWSROOM_OIDC_GRAPH_GROUPS = %q (default %v), want the oidcGraphGroups parameter, off by default",
				got, ct.t.Parameters["oidcGraphGroups"].DefaultValue)
		}
		if got := settings["AZURE_OPENAI_ENDPOINT"]; !ct.refersTo(got, openai) || !strings.HasSuffix(got, ".endpoint]") {
			t.Errorf("AZURE_OPENAI_ENDPOINT = %q, want the account's endpoint", got)
		}
		if got := settings["AZURE_CLIENT_ID"]; !ct.refersTo(got, identity) || !strings.HasSuffix(got, ".clientId]") {
			t.Errorf("AZURE_CLIENT_ID = %q, want the identity's clientId", got)
		}
		db := settings["NEWSROOM_DATABASE_URL"]
		secrets := ct.ofType("Microsoft.KeyVault/vaults/secrets")
		if len(secrets) != 1 {
			t.Fatalf("want one Key Vault secret, got %d", len(secrets))
		}
		secret := secrets[0]
		// The secret holds an external database's URL: not made when the
		// template deploys PostgreSQL (the app then uses the server's URL).
		if c := secret.res["condition"]; c != "[not(parameters('deployPostgres'))]" {
			t.Errorf("secret condition %v, want not(deployPostgres)", c)
		}
		// Without deployPostgres, the Key Vault secret; with it, the server's
		// passwordless URL (the identity signs in with a token: operations_test).
		if !strings.HasPrefix(db, "[if(parameters('deployPostgres'), format('postgres://") ||
			!strings.Contains(db, "format('@Microsoft.KeyVault(SecretUri={0})', reference(") || !ct.refersTo(db, secret) || !strings.HasSuffix(db, ".secretUri))]") {
			t.Errorf("NEWSROOM_DATABASE_URL = %q, want a Key Vault reference to the template's secret", db)
		}
		if v, _ := path(secret.res, "properties", "value").(string); v != "[parameters('databaseUrl')]" {
			t.Errorf("secret value = %q, want the secure parameter", v)
		}
		secretName := regexp.MustCompile(`(?i)(KEY|SECRET|PASSWORD|TOKEN|CONNECTION_STRING|DATABASE_URL)$`)
		secretValue := regexp.MustCompile(`(?i)(AccountKey=|SharedAccessKey=|password=|://[^/@\s]+:[^/@\s]+@|^[A-Za-z0-9+/]{40,}={0,2}$)`)
		for name, value := range settings {
			if strings.Contains(name, "API_KEY") {
				t.Errorf("app setting %s: the app authenticates with its identity, not keys", name)
			}
			if secretName.MatchString(name) && !isExpression(value) {
				t.Errorf("app setting %s holds a literal", name)
			}
			if secretValue.MatchString(value) {
				t.Errorf("app setting %s looks like it holds a secret", name)
			}
			if e, ok := ct.exprs[value]; ok {
				e.walk(func(x *expr) {
					if x.Func == "parameters" {
						if p, _ := x.stringArg(0); strings.HasPrefix(ct.t.Parameters[p].Type, "secure") {
							t.Errorf("app setting %s uses secure parameter %s directly", name, p)
						}
					}
					if x.Func == "listKeys" || x.Func == "listSecrets" {
						t.Errorf("app setting %s reads keys with %s", name, x.Func)
					}
				})
			}
		}
	})
	t.Run("the app-side alert thresholds are app settings with the app's defaults", func(t *testing.T) {
		settings := appSettings(site)
		appDefaults := map[string]string{}
		for _, s := range config.Settings() {
			for _, v := range s.Vars {
				appDefaults[v] = s.Default
			}
		}
		for _, c := range []struct{ setting, param, def string }{
			{"NEWSROOM_ALERT_MAX_LATENCY", "appAlertMaxLatency", "5s"},
			{"NEWSROOM_ALERT_MIN_SUCCESS_RATE", "appAlertMinSuccessRate", "0.995"},
			{"NEWSROOM_ALERT_MAX_QUOTA_USED", "appAlertMaxQuotaUsed", "0.8"},
			{"NEWSROOM_ALERT_MAX_OVER_BUDGET", "appAlertMaxOverBudget", "0.2"},
			{"NEWSROOM_ALERT_MAX_AUTH_FAILURES", "appAlertMaxAuthFailures", "5"},
		} {
			if got, want := settings[c.setting], "[parameters('"+c.param+"')]"; got != want {
				t.Errorf("app setting %s = %q, want %q", c.setting, got, want)
			}
			p, ok := ct.t.Parameters[c.param]
			if !ok {
				t.Errorf("parameter %s missing", c.param)
				continue
			}
			if p.Type != "string" || p.DefaultValue != c.def {
				t.Errorf("parameter %s: type %s, default %v; want string %q", c.param, p.Type, p.DefaultValue, c.def)
			}
			if d, ok := appDefaults[c.setting]; !ok || d != c.def {
				t.Errorf("config.Settings() default of %s = %q (known %v), want %q like the template", c.setting, d, ok, c.def)
			}
		}
		if _, err := time.ParseDuration(fmt.Sprint(ct.t.Parameters["appAlertMaxLatency"].DefaultValue)); err != nil {
			t.Errorf("appAlertMaxLatency default is not a Go duration: %v", err)
		}
		// The counters must reach Azure Monitor as increases, not running totals, or the
		// "counter increased in the window" rules would fire forever after the first alert.
		if got := settings["OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE"]; got != "delta" {
			t.Errorf("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE = %q, want delta", got)
		}
	})
	t.Run("the web app waits for its roles, secret, model and DNS before starting", func(t *testing.T) {
		deps, _ := site.res["dependsOn"].([]any)
		var targets []string
		for _, dep := range deps {
			typ, _, err := ct.resolveID(ct.exprs[dep.(string)])
			if err != nil {
				t.Fatal(err)
			}
			targets = append(targets, typ)
		}
		for _, want := range []string{"Microsoft.Authorization/roleAssignments", "Microsoft.KeyVault/vaults/secrets",
			"Microsoft.CognitiveServices/accounts/deployments", "Microsoft.Network/privateEndpoints/privateDnsZoneGroups"} {
			if !slices.Contains(targets, want) {
				t.Errorf("web app does not depend on a %s", want)
			}
		}
	})
}

// checkProps compares dotted property paths of a resource with wanted values.
func checkProps(t *testing.T, res map[string]any, want map[string]any) {
	t.Helper()
	for p, w := range want {
		if got := path(res, strings.Split(p, ".")...); got != w {
			t.Errorf("%s = %v, want %v", p, got, w)
		}
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestTemplate_Monitoring(t *testing.T) {
	ct := loadTemplate(t)
	workspace := ct.one(t, "Microsoft.OperationalInsights/workspaces")
	insights := ct.one(t, "Microsoft.Insights/components")
	group := ct.one(t, "Microsoft.Insights/actionGroups")

	t.Run("Application Insights is workspace-based", func(t *testing.T) {
		if ws, _ := path(insights.res, "properties", "WorkspaceResourceId").(string); !ct.refersTo(ws, workspace) {
			t.Errorf("WorkspaceResourceId = %q", ws)
		}
	})
	t.Run("diagnostic settings send Azure OpenAI, Key Vault and web app logs to the workspace", func(t *testing.T) {
		covered := map[string]bool{}
		for _, d := range ct.ofType("Microsoft.Insights/diagnosticSettings") {
			if ws, _ := path(d.res, "properties", "workspaceId").(string); !ct.refersTo(ws, workspace) {
				t.Errorf("diagnostic setting on %s goes to %q", d.scope, ws)
			}
			logs, _ := path(d.res, "properties", "logs").([]any)
			if len(logs) == 0 {
				t.Errorf("diagnostic setting on %s collects no logs", d.scope)
			}
			covered[strings.SplitN(d.scope, "|", 2)[0]] = true
		}
		for _, typ := range []string{"Microsoft.CognitiveServices/accounts", "Microsoft.KeyVault/vaults", "Microsoft.Web/sites", "Microsoft.Network/networkSecurityGroups"} {
			if !covered[typ] {
				t.Errorf("no diagnostic setting on %s", typ)
			}
		}
	})
	t.Run("the action group e-mails the alert address", func(t *testing.T) {
		rcv, _ := path(group.res, "properties", "emailReceivers").([]any)
		if len(rcv) == 0 || path(rcv[0], "emailAddress") != "[parameters('alertEmail')]" {
			t.Errorf("emailReceivers = %v", rcv)
		}
	})

	// Each alert of the design's metric table: the app evaluates the threshold itself and counts
	// each firing on newsroom.alert.<name>; the log alert fires when that counter increased.
	rules := ct.ofType("Microsoft.Insights/scheduledQueryRules")
	for _, r := range rules {
		checkAlertWiring(t, ct, r, group)
	}
	for _, name := range []string{"model_latency", "success_rate", "quota_used", "cost_over_budget", "auth_failures"} {
		t.Run("a log alert fires when the counter newsroom.alert."+name+" increased", func(t *testing.T) {
			var found int
			for _, r := range rules {
				crit, _ := path(r.res, "properties", "criteria", "allOf").([]any)
				for _, c := range crit {
					q, _ := path(c, "query").(string)
					if !strings.Contains(q, "'newsroom.alert."+name+"'") {
						continue
					}
					found++
					want := "customMetrics | where name == 'newsroom.alert." + name + "' | summarize AggregatedValue = sum(valueSum)"
					if q != want {
						t.Errorf("query %q, want %q", q, want)
					}
					if path(c, "metricMeasureColumn") != "AggregatedValue" || path(c, "timeAggregation") != "Total" {
						t.Errorf("measure %v aggregated by %v, want AggregatedValue by Total", path(c, "metricMeasureColumn"), path(c, "timeAggregation"))
					}
					if op, th := path(c, "operator"), path(c, "threshold"); op != "GreaterThan" || th != float64(0) {
						t.Errorf("fires when %v %v, want GreaterThan 0 (any increase)", op, th)
					}
					scopes, _ := path(r.res, "properties", "scopes").([]any)
					if len(scopes) != 1 || !ct.refersTo(scopes[0].(string), insights) {
						t.Errorf("%v scopes = %v, want Application Insights", r.segs, scopes)
					}
					if w, f := path(r.res, "properties", "windowSize"), path(r.res, "properties", "evaluationFrequency"); w == nil || f == nil {
						t.Errorf("%v: window %v, frequency %v", r.segs, w, f)
					}
				}
			}
			if found != 1 {
				t.Errorf("%d log alerts on newsroom.alert.%s, want 1", found, name)
			}
		})
	}
	t.Run("no log alert compares an app threshold again", func(t *testing.T) {
		for _, r := range rules {
			crit, _ := path(r.res, "properties", "criteria", "allOf").([]any)
			for _, c := range crit {
				if th, ok := path(c, "threshold").(string); ok {
					t.Errorf("%v: threshold %q, want a literal (the app owns its thresholds)", r.segs, th)
				}
			}
		}
	})
	t.Run("a log alert fires on the app's WARN lines with an alert field in the console log", func(t *testing.T) {
		found := false
		for _, r := range rules {
			crit, _ := path(r.res, "properties", "criteria", "allOf").([]any)
			for _, c := range crit {
				q, _ := path(c, "query").(string)
				if !strings.HasPrefix(q, "AppServiceConsoleLogs ") {
					continue
				}
				found = true
				for _, part := range []string{"parse_json(ResultDescription)", "tostring(e.level) == 'WARN'", "isnotempty(tostring(e.alert))", "by alert = tostring(e.alert)"} {
					if !strings.Contains(q, part) {
						t.Errorf("query %q lacks %q", q, part)
					}
				}
				scopes, _ := path(r.res, "properties", "scopes").([]any)
				if len(scopes) != 1 || !ct.refersTo(scopes[0].(string), workspace) {
					t.Errorf("%v scopes = %v, want the Log Analytics workspace", r.segs, scopes)
				}
				if path(r.res, "properties", "skipQueryValidation") != true {
					t.Errorf("%v: the table exists only after the first log line, so skipQueryValidation must be true", r.segs)
				}
			}
		}
		if !found {
			t.Error("no rule on AppServiceConsoleLogs")
		}
	})
	t.Run("platform metric alerts use Azure OpenAI's own metrics", func(t *testing.T) {
		want := map[string]string{
			"AzureOpenAITimeToResponse":   "alertModelLatencySeconds",
			"AzureOpenAIAvailabilityRate": "alertSuccessRatePercent",
			"TokenTransaction":            "alertQuotaPercent",
		}
		got := map[string]bool{}
		openai := ct.one(t, "Microsoft.CognitiveServices/accounts")
		for _, r := range ct.ofType("Microsoft.Insights/metricAlerts") {
			checkAlertWiring(t, ct, r, group)
			scopes, _ := path(r.res, "properties", "scopes").([]any)
			if len(scopes) != 1 || !ct.refersTo(scopes[0].(string), openai) {
				t.Errorf("%v scopes = %v, want the Azure OpenAI account", r.segs, scopes)
			}
			crit, _ := path(r.res, "properties", "criteria", "allOf").([]any)
			for _, c := range crit {
				m, _ := path(c, "metricName").(string)
				p, ok := want[m]
				if !ok {
					t.Errorf("unexpected metric %s", m)
					continue
				}
				if th, _ := path(c, "threshold").(string); !strings.Contains(th, "parameters('"+p+"')") {
					t.Errorf("%s threshold %q does not use %s", m, th, p)
				}
				if path(c, "metricNamespace") != "Microsoft.CognitiveServices/accounts" {
					t.Errorf("%s: metricNamespace %v", m, path(c, "metricNamespace"))
				}
				got[m] = true
			}
		}
		for m := range want {
			if !got[m] {
				t.Errorf("no metric alert on %s", m)
			}
		}
	})
	t.Run("tags reach every taggable resource", func(t *testing.T) {
		common, _ := ct.t.Variables["commonTags"].(string)
		if !strings.Contains(common, "parameters('tags')") {
			t.Fatalf("commonTags = %q does not include the tags parameter", common)
		}
		var decls []declared
		for _, c := range ct.all() {
			decls = append(decls, c.decls...)
		}
		for _, d := range decls {
			tags, has := d.res["tags"]
			switch {
			case notTaggable[d.typ] && has:
				t.Errorf("%s %v has tags, which its provider rejects", d.typ, d.segs)
			case !notTaggable[d.typ] && tags != "[variables('commonTags')]":
				t.Errorf("%s %v: tags = %v, want [variables('commonTags')]", d.typ, d.segs, tags)
			}
		}
	})
}

func checkAlertWiring(t *testing.T, ct *checkedTemplate, r, group declared) {
	t.Helper()
	var groups []any
	if r.typ == "Microsoft.Insights/metricAlerts" {
		acts, _ := path(r.res, "properties", "actions").([]any)
		for _, a := range acts {
			groups = append(groups, path(a, "actionGroupId"))
		}
	} else {
		groups, _ = path(r.res, "properties", "actions", "actionGroups").([]any)
	}
	if len(groups) != 1 || !ct.refersTo(fmt.Sprint(groups[0]), group) {
		t.Errorf("%v: action groups %v, want the template's", r.segs, groups)
	}
	if path(r.res, "properties", "enabled") != true {
		t.Errorf("%v is not enabled", r.segs)
	}
}
