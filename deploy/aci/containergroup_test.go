package aci_test

import (
	"slices"
	"testing"

	"github.com/newsroom-dev/newsroom/deploy/internal/armtest"
)

func TestTemplate_OneRunAsAJob(t *testing.T) {
	tm := armtest.Load(t, "containergroup.json")
	armtest.CheckReferences(t, tm)
	g := tm.One(t, "Microsoft.ContainerInstance/containerGroups")
	if armtest.Get(g, "properties.restartPolicy") != "Never" || armtest.Get(g, "properties.osType") != "Linux" {
		t.Errorf("restartPolicy %v: a job runs once", armtest.Get(g, "properties.restartPolicy"))
	}
	ids, _ := armtest.Get(g, "identity.userAssignedIdentities").(map[string]any)
	if _, ok := ids["[parameters('identityResourceId')]"]; !ok {
		t.Errorf("identity = %v", g["identity"])
	}
	c := armtest.Get(g, "properties.containers.0.properties")
	var cmd []string
	for _, a := range armtest.Get(c, "command").([]any) {
		cmd = append(cmd, a.(string))
	}
	i := slices.Index(cmd, "--task-file")
	if len(cmd) < 2 || cmd[0] != "/newsroom" || cmd[1] != "run" || i < 0 || cmd[i+1] != "/etc/newsroom/task/task.txt" {
		t.Errorf("command = %v", cmd)
	}
	if armtest.Get(c, "volumeMounts.0.mountPath") != "/etc/newsroom/task" {
		t.Errorf("mounts %v", armtest.Get(c, "volumeMounts"))
	}
	vol, _ := armtest.Get(g, "properties.volumes.0.secret").(map[string]any)
	if vol["task.txt"] != "[base64(parameters('task'))]" {
		t.Errorf("the task volume = %v", vol)
	}
	if tm.Parameters["task"]["type"] != "securestring" {
		t.Error("the task is not a secure parameter (it may hold unpublished facts)")
	}
	env := armtest.Settings(armtest.Get(c, "environmentVariables"))
	if env["AZURE_CLIENT_ID"] != "[parameters('identityClientId')]" || env["AZURE_OPENAI_ENDPOINT"] == nil {
		t.Errorf("env = %v", env)
	}
	if armtest.Get(g, "properties.diagnostics.logAnalytics.logType") != "ContainerInstanceLogs" {
		t.Errorf("diagnostics = %v", armtest.Get(g, "properties.diagnostics"))
	}
}
