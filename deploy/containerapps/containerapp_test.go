package containerapps_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/newsroom-dev/newsroom/deploy/internal/armtest"
)

func TestTemplate_ServeWithAQueueScaleRuleOnTheIdentity(t *testing.T) {
	tm := armtest.Load(t, "containerapp.json")
	armtest.CheckReferences(t, tm)
	if min := tm.Parameters["minReplicas"]; min["minValue"] != float64(1) || min["defaultValue"] != float64(1) {
		t.Errorf("minReplicas = %v, want at least 1 (feeds are polled and webhooks answered by a running replica)", min)
	}
	app := tm.One(t, "Microsoft.App/containerApps")
	uai := "[parameters('identityResourceId')]"
	ids, _ := armtest.Get(app, "identity.userAssignedIdentities").(map[string]any)
	if _, ok := ids[uai]; !ok || armtest.Get(app, "identity.type") != "UserAssigned" {
		t.Errorf("identity = %v", app["identity"])
	}
	scale := "properties.template.scale."
	if armtest.Get(app, scale+"minReplicas") != "[parameters('minReplicas')]" {
		t.Errorf("minReplicas = %v", armtest.Get(app, scale+"minReplicas"))
	}
	rule := armtest.Get(app, scale+"rules.0")
	if armtest.Get(rule, "azureQueue.identity") != uai || armtest.Get(rule, "azureQueue.queueName") != "[parameters('intakeQueueName')]" ||
		armtest.Get(rule, "azureQueue.accountName") != "[parameters('intakeStorageAccount')]" || armtest.Get(rule, "azureQueue.auth") != nil {
		t.Errorf("queue scale rule = %v (want the identity, no connection string)", rule)
	}
	c := armtest.Get(app, "properties.template.containers.0")
	env := armtest.Settings(armtest.Get(c, "env"))
	if env["NEWSROOM_DATABASE_AUTH"] != "entra" || env["NEWSROOM_INTAKE_FILE"] != "/etc/newsroom/intake.yaml" || env["AZURE_CLIENT_ID"] == nil {
		t.Errorf("env = %v", env)
	}
	// The probes are the binary's routes.
	probes := map[string]any{}
	for i := range 3 {
		p := armtest.Get(c, "probes."+string(rune('0'+i)))
		probes[armtest.Get(p, "type").(string)] = armtest.Get(p, "httpGet.path")
	}
	if probes["Liveness"] != "/healthz" || probes["Readiness"] != "/readyz" {
		t.Errorf("probes = %v", probes)
	}
	src, err := os.ReadFile(filepath.Join("..", "..", "server", "server.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, route := range []string{`"GET /healthz"`, `"GET /readyz"`} {
		if !strings.Contains(string(src), route) {
			t.Errorf("the server has no route %s", route)
		}
	}
	// The Key Vault secret is read with the identity; the intake file is mounted.
	secrets, _ := armtest.Get(app, "properties.configuration.secrets").([]any)
	var kv bool
	for _, s := range secrets {
		if armtest.Get(s, "identity") == uai && strings.Contains(armtest.Get(s, "keyVaultUrl").(string), "parameters('keyVaultName')") {
			kv = true
		}
	}
	if !kv || armtest.Get(app, "properties.template.volumes.0.storageType") != "Secret" {
		t.Errorf("secrets %v, volumes %v", secrets, armtest.Get(app, "properties.template.volumes"))
	}
	if armtest.Get(app, "properties.configuration.ingress.targetPort") != float64(8080) || armtest.Get(app, "properties.configuration.ingress.allowInsecure") != false {
		t.Errorf("ingress = %v", armtest.Get(app, "properties.configuration.ingress"))
	}
	roles := tm.RoleIDs()
	if !roles["19e7f393-937e-4f77-808e-94535e297925"] || !roles["8a0f0c08-91a1-4084-bc3d-661d67233fed"] {
		t.Errorf("roles %v: KEDA reads the queue's length (Storage Queue Data Reader), serve processes its messages (Message Processor)", roles)
	}
	if armtest.Get(tm.One(t, "Microsoft.App/managedEnvironments"), "properties.appLogsConfiguration.destination") != "log-analytics" {
		t.Error("the environment's logs do not go to Log Analytics")
	}
}
