package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

const validDeployment = `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ok
spec:
  replicas: 2
  selector:
    matchLabels: {app: ok}
  template:
    metadata:
      labels: {app: ok}
    spec:
      containers:
        - name: app
          image: example/app:1.0.0
          ports: [{name: http, containerPort: 8080}]
          readinessProbe:
            httpGet: {path: /readyz, port: http}
`

func validate(t *testing.T, input string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, strings.NewReader(input), &out, &errOut)
	return code, out.String(), errOut.String()
}

func expectOK(t *testing.T, input string) {
	t.Helper()
	if code, _, stderr := validate(t, input); code != 0 {
		t.Fatalf("expected valid, got exit %d:\n%s", code, stderr)
	}
}

func expectFail(t *testing.T, input string, wants ...string) {
	t.Helper()
	code, _, stderr := validate(t, input)
	if code == 0 {
		t.Fatalf("expected a failure mentioning %q, but the input passed", wants)
	}
	for _, w := range wants {
		if !strings.Contains(stderr, w) {
			t.Fatalf("expected the failure to mention %q, got:\n%s", w, stderr)
		}
	}
}

func TestValidDeploymentPasses(t *testing.T) {
	expectOK(t, validDeployment)
}

func TestBrokenFixtureIsRejected(t *testing.T) {
	data, err := os.ReadFile("testdata/broken-deployment.yaml")
	if err != nil {
		t.Fatal(err)
	}
	expectFail(t, string(data), "document 1 (apps/v1 Deployment)", `unknown field "spec.replicaz"`)
}

func TestUnknownFieldDeepInPodSpec(t *testing.T) {
	in := strings.Replace(validDeployment, "image: example/app:1.0.0", "image: example/app:1.0.0\n          imagePullPolicyy: Always", 1)
	expectFail(t, in, `unknown field "spec.template.spec.containers[0].imagePullPolicyy"`)
}

func TestFieldNamesAreCaseSensitive(t *testing.T) {
	in := strings.Replace(validDeployment, "replicas: 2", "Replicas: 2", 1)
	expectFail(t, in, `unknown field "spec.Replicas"`)
}

func TestDuplicateKeysAreRejected(t *testing.T) {
	in := strings.Replace(validDeployment, "replicas: 2", "replicas: 2\n  replicas: 3", 1)
	expectFail(t, in, "replicas")
}

func TestWrongTypeIsRejected(t *testing.T) {
	expectFail(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  PORT: 8080\n", "ConfigMap", "data")
}

func TestUnknownKindIsRejected(t *testing.T) {
	expectFail(t, "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n", "unknown or unsupported apiVersion/kind v1/Pod")
	expectFail(t, "apiVersion: extensions/v1beta1\nkind: Ingress\nmetadata: {name: i}\n", "extensions/v1beta1/Ingress")
}

func TestMissingNameAndContainers(t *testing.T) {
	in := `
apiVersion: apps/v1
kind: Deployment
metadata: {}
spec:
  selector: {matchLabels: {app: x}}
  template:
    metadata: {labels: {app: x}}
    spec:
      containers: []
`
	expectFail(t, in, "metadata.name: Required value", "spec.template.spec.containers: Required value")
}

func TestSelectorMustMatchTemplate(t *testing.T) {
	in := strings.Replace(validDeployment, "labels: {app: ok}", "labels: {app: other}", 1)
	expectFail(t, in, "selector does not match template labels")
}

func TestProbeMustUseDeclaredPort(t *testing.T) {
	in := strings.Replace(validDeployment, "port: http}", "port: web}", 1)
	expectFail(t, in, "readinessProbe.httpGet.port: Not found")
}

func TestSecretKeyReferencesAreChecked(t *testing.T) {
	in := `
apiVersion: v1
kind: Secret
metadata: {name: s}
data:
  A: YQ==
---
` + strings.Replace(validDeployment, "ports:", "env: [{name: B, valueFrom: {secretKeyRef: {name: s, key: B}}}]\n          ports:", 1)
	expectFail(t, in, `refers to key "B" that Secret "s"`)
}

func TestServiceMustSelectPods(t *testing.T) {
	in := validDeployment + `
---
apiVersion: v1
kind: Service
metadata: {name: svc}
spec:
  selector: {app: nothing}
  ports: [{name: http, port: 80, targetPort: http}]
`
	expectFail(t, in, "selects no pods")
}

func TestServiceMonitorIsStrict(t *testing.T) {
	base := validDeployment + `
---
apiVersion: v1
kind: Service
metadata: {name: svc, labels: {app: ok}}
spec:
  selector: {app: ok}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata: {name: sm}
spec:
  selector: {matchLabels: {app: ok}}
  endpoints:
    - port: http
      path: /metrics
      interval: 30s
`
	expectOK(t, base)
	expectFail(t, strings.Replace(base, "interval: 30s", "intervall: 30s", 1), `unknown field "spec.endpoints[0].intervall"`)
	expectFail(t, strings.Replace(base, "interval: 30s", "interval: soon", 1), "spec.endpoints[0].interval")
	expectFail(t, strings.Replace(base, "- port: http", "- port: metrics", 1), `has no port named "metrics"`)
}

func TestEmptyInputFails(t *testing.T) {
	expectFail(t, "# only a comment\n---\n", "no documents")
}

func TestToJSON(t *testing.T) {
	code, out, stderr := validate(t, "# c\n---\na: 1\n---\n---\nb: [x]\n", "--to-json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var docs []map[string]any
	if err := json.Unmarshal([]byte(out), &docs); err != nil {
		t.Fatalf("not a JSON array: %v\n%s", err, out)
	}
	if len(docs) != 2 || docs[0]["a"] != float64(1) {
		t.Fatalf("unexpected documents: %s", out)
	}
}

func TestPersistentVolumeClaim(t *testing.T) {
	expectOK(t, "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data}\nspec:\n  accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 1Gi}}\n")
	expectFail(t, "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data}\nspec:\n  resources: {requests: {storage: 1Gi}}\n", "accessModes")
	expectFail(t, "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data}\nspec:\n  accessModes: [ReadWriteOnce]\n", "storage")
}
