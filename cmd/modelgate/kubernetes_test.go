package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

type k8sContainer struct {
	Args  []string `yaml:"args"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	Env []struct {
		Name      string `yaml:"name"`
		Value     string `yaml:"value"`
		ValueFrom *struct {
			SecretKeyRef *struct{ Name, Key string } `yaml:"secretKeyRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	ReadinessProbe *k8sProbe `yaml:"readinessProbe"`
	LivenessProbe  *k8sProbe `yaml:"livenessProbe"`
	Resources      struct {
		Requests map[string]string `yaml:"requests"`
	} `yaml:"resources"`
	SecurityContext struct {
		ReadOnlyRootFilesystem   bool `yaml:"readOnlyRootFilesystem"`
		AllowPrivilegeEscalation bool `yaml:"allowPrivilegeEscalation"`
	} `yaml:"securityContext"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
}

type k8sProbe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
}

type k8sDeployment struct {
	Kind string `yaml:"kind"`
	Spec struct {
		Replicas int `yaml:"replicas"`
		Template struct {
			Spec struct {
				SecurityContext struct {
					RunAsNonRoot bool `yaml:"runAsNonRoot"`
				} `yaml:"securityContext"`
				Containers []k8sContainer `yaml:"containers"`
				Volumes    []struct {
					Name   string `yaml:"name"`
					Secret *struct {
						SecretName string `yaml:"secretName"`
					} `yaml:"secret"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

// decodeYAML decodes the fields of a YAML file that v has.
func decodeYAML(t *testing.T, path string, v any) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := yaml.NewDecoder(f).Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// servedEnv are the environment variables serve reads, from its source.
func servedEnv(t *testing.T) []string {
	t.Helper()
	var names []string
	for _, f := range []string{"serve.go", "reviewers.go", "main.go"} {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`getenv\("(MODELGATE_[A-Z_]+)"\)`).FindAllSubmatch(src, -1) {
			names = append(names, string(m[1]))
		}
	}
	return names
}

// The Kubernetes manifests run serve as serve reads its settings: every
// variable set is one serve reads, the required ones are set, secrets are
// files of the mounted Secret, and the probes ask the server's /readyz and
// /healthz on the port it listens on.
func TestKubernetesManifestsMatchServe(t *testing.T) {
	root := filepath.Join("..", "..", "deploy", "kubernetes")
	var d k8sDeployment
	decodeYAML(t, filepath.Join(root, "deployment.yaml"), &d)
	if d.Kind != "Deployment" || d.Spec.Replicas != 2 || len(d.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("deployment: kind %q, %d replicas, %d containers; want one container, two replicas", d.Kind, d.Spec.Replicas, len(d.Spec.Template.Spec.Containers))
	}
	pod := d.Spec.Template.Spec
	c := pod.Containers[0]
	if !slices.Equal(c.Args, []string{"serve"}) {
		t.Errorf("args %v; want [serve]", c.Args)
	}
	if !pod.SecurityContext.RunAsNonRoot || !c.SecurityContext.ReadOnlyRootFilesystem || c.SecurityContext.AllowPrivilegeEscalation {
		t.Errorf("security context: runAsNonRoot %v, readOnlyRootFilesystem %v, allowPrivilegeEscalation %v",
			pod.SecurityContext.RunAsNonRoot, c.SecurityContext.ReadOnlyRootFilesystem, c.SecurityContext.AllowPrivilegeEscalation)
	}
	if c.Resources.Requests["cpu"] == "" || c.Resources.Requests["memory"] == "" {
		t.Errorf("resource requests %v; want cpu and memory", c.Resources.Requests)
	}
	env := map[string]string{}
	read := servedEnv(t)
	for _, e := range c.Env {
		if !slices.Contains(read, e.Name) {
			t.Errorf("env %s is not one serve reads (%v)", e.Name, read)
		}
		env[e.Name] = e.Value
		if e.Name == "MODELGATE_DATABASE" && (e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil) {
			t.Error("MODELGATE_DATABASE must come from a Secret: the URL holds the database's password")
		}
	}
	addr := env["MODELGATE_ADDR"]
	if len(c.Ports) != 1 || c.Ports[0].Name != "http" || ":"+strconv.Itoa(c.Ports[0].ContainerPort) != addr {
		t.Errorf("ports %+v; want one named http on serve's address %s", c.Ports, addr)
	}
	for name, probe := range map[string]string{"/readyz": probePath(c.ReadinessProbe), "/healthz": probePath(c.LivenessProbe)} {
		if probe != name {
			t.Errorf("probe on %q; want %s on port http", probe, name)
		}
	}
	secretDir := ""
	for _, m := range c.VolumeMounts {
		for _, v := range pod.Volumes {
			if v.Name == m.Name && v.Secret != nil {
				secretDir = m.MountPath
			}
		}
	}
	for _, name := range []string{"MODELGATE_PRIVATE_KEY_FILE", "MODELGATE_WEBHOOK_SECRET_FILE", "MODELGATE_AUDIT_KEY_FILE", "MODELGATE_OAUTH_CLIENT_SECRET_FILE", "MODELGATE_SESSION_KEY_FILE"} {
		if secretDir == "" || filepath.Dir(env[name]) != secretDir {
			t.Errorf("%s = %q; want a file of the Secret mounted at %q", name, env[name], secretDir)
		}
	}
	if env["MODELGATE_APP_ID"] == "" {
		t.Error("MODELGATE_APP_ID is not set")
	}

	var svc struct {
		Kind string `yaml:"kind"`
		Spec struct {
			Selector map[string]string `yaml:"selector"`
			Ports    []struct {
				TargetPort string `yaml:"targetPort"`
			} `yaml:"ports"`
		} `yaml:"spec"`
	}
	decodeYAML(t, filepath.Join(root, "service.yaml"), &svc)
	if svc.Kind != "Service" || len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].TargetPort != "http" || svc.Spec.Selector["app.kubernetes.io/name"] != "modelgate" {
		t.Errorf("service %+v; want the http port of the modelgate pods", svc)
	}
}

func probePath(p *k8sProbe) string {
	if p == nil || p.HTTPGet.Port != "http" {
		return ""
	}
	return p.HTTPGet.Path
}

// The image runs the binary as a non-root user, exposes serve's default
// port and checks its health on /healthz.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "\nFROM scratch\n", "\nUSER 65532:65532\n", "\nEXPOSE 8080\n",
		`CMD ["/modelgate", "healthcheck", "--url", "http://127.0.0.1:8080/healthz"]`, "/etc/ssl/certs/ca-certificates.crt"} {
		if !strings.Contains(src, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
}
