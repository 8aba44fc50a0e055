package azure_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/newsroom-dev/newsroom/model/pool"
)

// appSettings returns the web app's app settings, name to value expression.
func appSettings(site declared) map[string]string {
	list, _ := path(site.res, "properties", "siteConfig", "appSettings").([]any)
	settings := map[string]string{}
	for _, s := range list {
		name, _ := path(s, "name").(string)
		value, _ := path(s, "value").(string)
		settings[name] = value
	}
	return settings
}

// appSetting returns the value expression of the web app's app setting.
func appSetting(t *testing.T, ct *checkedTemplate, name string) string {
	t.Helper()
	site := ct.one(t, "Microsoft.Web/sites")
	settings, _ := path(site.res, "properties", "siteConfig", "appSettings").([]any)
	for _, s := range settings {
		m, _ := s.(map[string]any)
		if m["name"] == name {
			v, _ := m["value"].(string)
			return v
		}
	}
	t.Fatalf("no app setting %s", name)
	return ""
}

func byName(ct *checkedTemplate, typ, nameContains string) (declared, bool) {
	for _, d := range ct.ofType(typ) {
		if n, _ := d.res["name"].(string); strings.Contains(n, nameContains) {
			return d, true
		}
	}
	return declared{}, false
}

func str(v any) string { s, _ := v.(string); return s }

func TestTemplate_Operations(t *testing.T) {
	ct := loadTemplate(t)

	t.Run("the OpenTelemetry Collector runs as a sidecar and the app exports to it on localhost", func(t *testing.T) {
		main, ok := byName(ct, "Microsoft.Web/sites/sitecontainers", "'main'")
		if !ok || path(main.res, "properties", "isMain") != true || str(path(main.res, "properties", "image")) != "[parameters('containerImage')]" {
			t.Fatalf("main container %v: want isMain and the containerImage parameter", main.res)
		}
		col, ok := byName(ct, "Microsoft.Web/sites/sitecontainers", "otel-collector")
		if !ok {
			t.Fatal("no collector sidecar")
		}
		p := col.res["properties"].(map[string]any)
		if p["isMain"] != false || p["image"] != "[parameters('otelCollectorImage')]" || p["targetPort"] != "4318" {
			t.Errorf("collector %v", p)
		}
		if img, _ := ct.t.Parameters["otelCollectorImage"].DefaultValue.(string); !strings.Contains(img, "opentelemetry-collector-contrib") {
			t.Errorf("collector image %q is not the contrib distribution", img)
		}
		env := map[string]string{}
		for _, e := range p["environmentVariables"].([]any) {
			m := e.(map[string]any)
			env[str(m["name"])] = str(m["value"])
		}
		// A site container's environment values name app settings.
		for _, name := range []string{"APPLICATIONINSIGHTS_CONNECTION_STRING", "OTEL_COLLECTOR_CONFIG"} {
			if env[name] != name {
				t.Errorf("collector env %s = %q, want the app setting of that name", name, env[name])
			}
			appSetting(t, ct, name)
		}
		if str(p["startUpCommand"]) != "--config=env:OTEL_COLLECTOR_CONFIG" {
			t.Errorf("collector command %q", p["startUpCommand"])
		}
		cfg, _ := ct.t.Variables["collectorConfig"].(string)
		for _, want := range []string{"endpoint: localhost:4318", "azuremonitor:", "connection_string: ${env:APPLICATIONINSIGHTS_CONNECTION_STRING}",
			"traces:", "metrics:", "logs:", "exporters: [azuremonitor]"} {
			if !strings.Contains(cfg, want) {
				t.Errorf("collector config lacks %q", want)
			}
		}
		if v := appSetting(t, ct, "OTEL_EXPORTER_OTLP_ENDPOINT"); !strings.Contains(v, "'http://localhost:4318'") {
			t.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT = %s, want localhost:4318 unless otlpEndpoint is set", v)
		}
		if path(ct.one(t, "Microsoft.Web/sites").res, "properties", "siteConfig", "linuxFxVersion") != "sitecontainers" {
			t.Error("the site does not run site containers")
		}
	})

	t.Run("autoscale scales the plan on CPU and HTTP queue length within parameters", func(t *testing.T) {
		as := ct.one(t, "Microsoft.Insights/autoscalesettings")
		plan := ct.one(t, "Microsoft.Web/serverfarms")
		if !ct.refersTo(str(path(as.res, "properties", "targetResourceUri")), plan) {
			t.Error("autoscale does not target the plan")
		}
		prof := path(as.res, "properties", "profiles").([]any)[0].(map[string]any)
		capy := prof["capacity"].(map[string]any)
		if !strings.Contains(str(capy["minimum"]), "autoscaleMinInstances") || !strings.Contains(str(capy["maximum"]), "autoscaleMaxInstances") {
			t.Errorf("capacity %v", capy)
		}
		seen := map[string]bool{}
		for _, r := range prof["rules"].([]any) {
			m := r.(map[string]any)
			tr := m["metricTrigger"].(map[string]any)
			if !ct.refersTo(str(tr["metricResourceUri"]), plan) {
				t.Errorf("rule on %v does not watch the plan", tr["metricName"])
			}
			seen[str(tr["metricName"])+"/"+str(path(m, "scaleAction", "direction"))] = true
		}
		for _, k := range []string{"CpuPercentage/Increase", "CpuPercentage/Decrease", "HttpQueueLength/Increase", "HttpQueueLength/Decrease"} {
			if !seen[k] {
				t.Errorf("no %s rule", k)
			}
		}
	})

	t.Run("policy assignments use built-in definitions for tags, NSGs on subnets and encryption", func(t *testing.T) {
		ids := map[string]bool{}
		for _, d := range ct.ofType("Microsoft.Authorization/policyAssignments") {
			def := str(path(d.res, "properties", "policyDefinitionId"))
			m := regexp.MustCompile(`tenantResourceId\('Microsoft.Authorization/policyDefinitions', variables\('(\w+)'\)\)`).FindStringSubmatch(def)
			if m == nil {
				t.Errorf("assignment %v: definition %s is not a built-in (tenant-level) definition", d.segs, def)
				continue
			}
			ids[str(ct.t.Variables[m[1]])] = true
		}
		for id, what := range map[string]string{
			"871b6d14-10aa-478d-b590-94f262ecfa99": "Require a tag on resources",
			"e71308d3-144b-4262-b144-efdc3cc90517": "Subnets should be associated with a Network Security Group",
			"67121cc7-ff39-4ab8-b7e3-95b84dab487d": "Azure AI services should encrypt data at rest with a customer-managed key",
		} {
			if !ids[id] {
				t.Errorf("no assignment of %s (%s)", what, id)
			}
		}
		tags, _ := byName(ct, "Microsoft.Authorization/policyAssignments", "require-tag")
		if c, _ := tags.res["copy"].(map[string]any); c == nil || !strings.Contains(str(c["count"]), "requiredTags") {
			t.Error("the tag assignment is not one per required tag")
		}
		// Every subnet the template declares has an NSG, as the policy asks.
		for _, sn := range ct.subnets(ct.one(t, "Microsoft.Network/virtualNetworks")) {
			if path(sn, "properties", "networkSecurityGroup", "id") == nil {
				t.Errorf("subnet %v has no NSG", sn["name"])
			}
		}
	})

	t.Run("a monthly budget notifies the action group at 80 and 100 percent", func(t *testing.T) {
		b := ct.one(t, "Microsoft.Consumption/budgets")
		group := ct.one(t, "Microsoft.Insights/actionGroups")
		if str(path(b.res, "properties", "amount")) != "[parameters('monthlyBudgetUsd')]" || path(b.res, "properties", "category") != "Cost" {
			t.Errorf("budget %v", b.res["properties"])
		}
		var got []float64
		for _, n := range path(b.res, "properties", "notifications").(map[string]any) {
			m := n.(map[string]any)
			groups, _ := m["contactGroups"].([]any)
			if len(groups) != 1 || !ct.refersTo(str(groups[0]), group) || m["thresholdType"] != "Actual" || m["enabled"] != true {
				t.Errorf("notification %v does not reach the action group", m)
			}
			got = append(got, m["threshold"].(float64))
		}
		if len(got) != 2 || !(got[0] == 80 && got[1] == 100 || got[0] == 100 && got[1] == 80) {
			t.Errorf("thresholds %v, want 80 and 100", got)
		}
	})

	only := func(t *testing.T, typ string) declared {
		t.Helper()
		ds := ct.ofType(typ)
		if len(ds) != 1 {
			t.Fatalf("want one %s, got %d", typ, len(ds))
		}
		return ds[0]
	}
	t.Run("PostgreSQL is optional, private and Entra-only", func(t *testing.T) {
		pg := only(t, "Microsoft.DBforPostgreSQL/flexibleServers")
		checkProps(t, pg.res, map[string]any{"condition": "[parameters('deployPostgres')]"})
		p := pg.res["properties"].(map[string]any)
		if path(p, "network", "publicNetworkAccess") != "Disabled" || path(p, "authConfig", "passwordAuth") != "Disabled" ||
			path(p, "authConfig", "activeDirectoryAuth") != "Enabled" {
			t.Errorf("postgres network %v auth %v", p["network"], p["authConfig"])
		}
		if !strings.Contains(str(path(p, "network", "delegatedSubnetResourceId")), "pgSubnetName") {
			t.Error("postgres is not in its delegated subnet")
		}
		// The administrator's name is the identity's principal id, known only
		// while deploying: ARM takes no reference() in a name, so a nested
		// deployment receives it as a parameter.
		if len(ct.ofType("Microsoft.DBforPostgreSQL/flexibleServers/administrators")) != 0 {
			t.Error("the administrator is declared at the top, where its name cannot use the principal id")
		}
		var admins []declared
		var adminDeploy *checkedTemplate
		for _, n := range ct.all()[1:] {
			if ds := n.ofType("Microsoft.DBforPostgreSQL/flexibleServers/administrators"); len(ds) > 0 {
				admins, adminDeploy = append(admins, ds...), n
			}
		}
		if len(admins) != 1 {
			t.Fatalf("want one PostgreSQL administrator in a nested deployment, got %d", len(admins))
		}
		admin := admins[0]
		if adminDeploy.outerText(str(admin.res["name"])) != "format('{0}/{1}', variables('postgresName'), reference(resourceId('Microsoft.ManagedIdentity/userAssignedIdentities', variables('identityName')), '2023-01-31').principalId)" ||
			path(admin.res, "properties", "principalType") != "ServicePrincipal" ||
			adminDeploy.outerText(str(path(admin.res, "properties", "principalName"))) != "variables('identityName')" {
			t.Errorf("postgres administrator %v (%v) is not the app's identity", adminDeploy.outerText(str(admin.res["name"])), admin.res["properties"])
		}
		if c := adminDeploy.deployment.res["condition"]; c != "[parameters('deployPostgres')]" {
			t.Errorf("administrator deployment condition %v", c)
		}
		// The app's own database, not the server's maintenance database postgres.
		db := only(t, "Microsoft.DBforPostgreSQL/flexibleServers/databases")
		checkProps(t, db.res, map[string]any{"condition": "[parameters('deployPostgres')]"})
		if str(db.res["name"]) != "[format('{0}/{1}', variables('postgresName'), parameters('postgresDatabaseName'))]" ||
			ct.t.Parameters["postgresDatabaseName"].DefaultValue != "newsroom" || path(db.res, "properties", "charset") != "UTF8" {
			t.Errorf("database %v %v, default name %v", db.res["name"], db.res["properties"], ct.t.Parameters["postgresDatabaseName"].DefaultValue)
		}
		site := ct.one(t, "Microsoft.Web/sites")
		if !ct.dependsOn(site, db) || !ct.dependsOn(site, adminDeploy.deployment) {
			t.Error("the web app starts before its database and its sign-in exist")
		}
		if v := appSetting(t, ct, "NEWSROOM_POSTGRES_HOST"); !strings.Contains(v, "fullyQualifiedDomainName") {
			t.Errorf("NEWSROOM_POSTGRES_HOST = %s", v)
		}
		// The app signs in as its identity (the Entra administrator's role
		// name), with a token for a password: no password in the URL.
		if v := appSetting(t, ct, "NEWSROOM_DATABASE_URL"); !strings.Contains(v, "if(parameters('deployPostgres'), format('postgres://{0}@{1}:5432/{2}?") ||
			!strings.Contains(v, "parameters('postgresDatabaseName'))") ||
			!strings.Contains(v, "sslmode=require") || !strings.Contains(v, "variables('identityName')") || !strings.Contains(v, "fullyQualifiedDomainName") {
			t.Errorf("NEWSROOM_DATABASE_URL = %s, want the server's passwordless URL when deployPostgres", v)
		}
		if v := appSetting(t, ct, "NEWSROOM_DATABASE_AUTH"); v != "[if(parameters('deployPostgres'), 'entra', '')]" {
			t.Errorf("NEWSROOM_DATABASE_AUTH = %s, want entra when deployPostgres", v)
		}
	})

	t.Run("Redis is optional, TLS only, without access keys, behind a private endpoint", func(t *testing.T) {
		r := only(t, "Microsoft.Cache/redis")
		checkProps(t, r.res, map[string]any{"condition": "[parameters('deployRedis')]"})
		p := r.res["properties"].(map[string]any)
		if p["enableNonSslPort"] != false || p["minimumTlsVersion"] != "1.2" || p["publicNetworkAccess"] != "Disabled" ||
			p["disableAccessKeyAuthentication"] != true || path(p, "redisConfiguration", "aad-enabled") != "true" {
			t.Errorf("redis %v", p)
		}
		pe, ok := byName(ct, "Microsoft.Network/privateEndpoints", "redisPeName")
		if !ok || !strings.Contains(str(path(pe.res, "properties", "privateLinkServiceConnections").([]any)[0].(map[string]any)["properties"].(map[string]any)["privateLinkServiceId"]), "Microsoft.Cache/redis") {
			t.Error("no private endpoint to the Redis cache")
		}
		if v := appSetting(t, ct, "NEWSROOM_REDIS_HOST"); !strings.Contains(v, "6380") {
			t.Errorf("NEWSROOM_REDIS_HOST = %s, want the TLS port", v)
		}
		if v := appSetting(t, ct, "NEWSROOM_REDIS_URL"); !strings.Contains(v, "format('rediss://{0}:6380/0'") || !strings.Contains(v, "deployRedis") {
			t.Errorf("NEWSROOM_REDIS_URL = %s, want rediss:// on the TLS port without a password", v)
		}
		if v := appSetting(t, ct, "NEWSROOM_REDIS_AUTH"); v != "[if(parameters('deployRedis'), 'entra', '')]" {
			t.Errorf("NEWSROOM_REDIS_AUTH = %s, want entra when deployRedis", v)
		}
		// Instances share one response cache: Redis, else PostgreSQL, else
		// each its own SQLite file.
		if v := appSetting(t, ct, "NEWSROOM_CACHE"); v != "[if(parameters('deployRedis'), 'redis', if(parameters('deployPostgres'), 'postgres', 'sqlite'))]" {
			t.Errorf("NEWSROOM_CACHE = %s", v)
		}
	})

	t.Run("a secondary Azure OpenAI account is private, keyless, reachable by the app and passed as a pool", func(t *testing.T) {
		acc, ok := byName(ct, "Microsoft.CognitiveServices/accounts", "openAi2Name")
		if !ok {
			t.Fatal("no secondary account")
		}
		if !strings.Contains(str(acc.res["condition"]), "secondaryLocation") || acc.res["location"] != "[parameters('secondaryLocation')]" {
			t.Errorf("secondary account condition %v location %v", acc.res["condition"], acc.res["location"])
		}
		checkProps(t, acc.res, map[string]any{})
		if path(acc.res, "properties", "publicNetworkAccess") != "Disabled" || path(acc.res, "properties", "disableLocalAuth") != true {
			t.Error("the secondary account is public or accepts keys")
		}
		if _, ok := byName(ct, "Microsoft.Network/privateEndpoints", "openAi2PeName"); !ok {
			t.Error("no private endpoint to the secondary account")
		}
		role := false
		for _, d := range ct.ofType("Microsoft.Authorization/roleAssignments") {
			if strings.Contains(str(d.res["scope"]), "openAi2Name") && strings.Contains(str(path(d.res, "properties", "roleDefinitionId")), "openAiUserRoleId") {
				role = true
			}
		}
		if !role {
			t.Error("the app's identity has no OpenAI User role on the secondary account")
		}
		if v := appSetting(t, ct, "NEWSROOM_DEPLOYMENTS_FILE"); !strings.Contains(v, "'env:NEWSROOM_POOL_YAML'") {
			t.Errorf("NEWSROOM_DEPLOYMENTS_FILE = %s", v)
		}
		// NEWSROOM_DEPLOYMENTS is the comma-separated list of deployments team
		// files may name (cmd/newsroom): the pool's YAML must not land there.
		if _, ok := appSettings(ct.one(t, "Microsoft.Web/sites"))["NEWSROOM_DEPLOYMENTS"]; ok {
			t.Error("the template sets NEWSROOM_DEPLOYMENTS, which newsroom reads as the team files' deployment list")
		}
		// The pool the template writes is a deployments file newsroom accepts.
		v := appSetting(t, ct, "NEWSROOM_POOL_YAML")
		m := regexp.MustCompile(`format\('((?:[^']|'')*)'`).FindStringSubmatch(v)
		if m == nil {
			t.Fatalf("NEWSROOM_POOL_YAML = %s: no format string", v)
		}
		yaml := strings.NewReplacer("{0}", "https://primary.openai.azure.com/", "{1}", "gpt-5-mini", "{2}", "v1",
			"{3}", "30000", "{4}", "https://secondary.openai.azure.com/", "{5}", "30000", "{6}", "gpt-5-mini").Replace(m[1])
		f, err := pool.Parse("NEWSROOM_POOL_YAML", []byte(yaml), func(string) (string, bool) { return "", false })
		if err != nil {
			t.Fatalf("the template's pool does not parse: %v\n%s", err, yaml)
		}
		if len(f.Deployments) != 2 || f.Deployments[0].Priority != 1 || f.Deployments[1].Priority != 2 || f.Deployments[1].APIKey != "" ||
			f.Deployments[0].Model != "gpt-5-mini" || f.Deployments[1].Model != "gpt-5-mini" || f.Deployments[1].APIVersion != "v1" {
			t.Errorf("pool %+v, want primary then secondary, Entra ID", f.Deployments)
		}
	})
}
