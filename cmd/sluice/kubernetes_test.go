package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// k8sObject is the part of a Kubernetes object the manifest test reads.
type k8sObject struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name   string            `yaml:"name"`
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Spec struct {
		Replicas *int `yaml:"replicas"`
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Template struct {
			Metadata struct {
				Labels map[string]string `yaml:"labels"`
			} `yaml:"metadata"`
			Spec struct {
				Grace      int `yaml:"terminationGracePeriodSeconds"`
				Containers []struct {
					Name  string   `yaml:"name"`
					Image string   `yaml:"image"`
					Args  []string `yaml:"args"`
					Ports []struct {
						Name          string `yaml:"name"`
						ContainerPort int    `yaml:"containerPort"`
					} `yaml:"ports"`
					Env []struct {
						Name      string        `yaml:"name"`
						Value     *string       `yaml:"value"`
						ValueFrom *k8sValueFrom `yaml:"valueFrom"`
					} `yaml:"env"`
					Readiness *k8sProbe `yaml:"readinessProbe"`
					Liveness  *k8sProbe `yaml:"livenessProbe"`
				} `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
		Ports []struct {
			Port       int    `yaml:"port"`
			TargetPort string `yaml:"targetPort"`
		} `yaml:"ports"`
	} `yaml:"spec"`
}

type k8sValueFrom struct {
	FieldRef *struct {
		FieldPath string `yaml:"fieldPath"`
	} `yaml:"fieldRef"`
	SecretKeyRef *struct {
		Name string `yaml:"name"`
		Key  string `yaml:"key"`
	} `yaml:"secretKeyRef"`
}

type k8sProbe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
}

// The Kubernetes manifest of deploy/kubernetes runs several replicas of
// `sluice server` on one PostgreSQL catalog, as docs/scaling.md says: every
// environment variable it sets is one `sluice server` reads, each replica
// is named by its pod (a unique node id), the probes are the server's, the
// grace period covers the orderly stop, and the Service selects the pods.
func TestKubernetesManifest(t *testing.T) {
	raw, err := os.ReadFile("../../deploy/kubernetes/sluice.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var objs []k8sObject
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	for {
		var o k8sObject
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("parse the manifest: %v", err)
		}
		objs = append(objs, o)
	}
	var dep, svc *k8sObject
	for i := range objs {
		switch objs[i].Kind {
		case "Deployment":
			dep = &objs[i]
		case "Service":
			svc = &objs[i]
		}
	}
	if dep == nil || svc == nil || dep.APIVersion != "apps/v1" || svc.APIVersion != "v1" {
		t.Fatalf("want an apps/v1 Deployment and a v1 Service, got %+v", objs)
	}
	if dep.Spec.Replicas == nil || *dep.Spec.Replicas < 2 {
		t.Error("the Deployment does not run several replicas")
	}
	for k, v := range dep.Spec.Selector.MatchLabels {
		if dep.Spec.Template.Metadata.Labels[k] != v {
			t.Errorf("the Deployment's selector %s=%s does not select its pods", k, v)
		}
	}
	var svcSel struct {
		Spec struct {
			Selector map[string]string `yaml:"selector"`
		} `yaml:"spec"`
	}
	docs := bytes.Split(raw, []byte("\n---\n"))
	yaml.Unmarshal(docs[len(docs)-1], &svcSel)
	if len(svcSel.Spec.Selector) == 0 {
		t.Error("the Service selects nothing")
	}
	for k, v := range svcSel.Spec.Selector {
		if dep.Spec.Template.Metadata.Labels[k] != v {
			t.Errorf("the Service's selector %s=%s selects no pod", k, v)
		}
	}
	pod := dep.Spec.Template.Spec
	// SIGTERM stops every pipeline in order, each final write and
	// checkpoint bounded by the server's stop timeout (30 s).
	if time.Duration(pod.Grace)*time.Second <= 30*time.Second {
		t.Errorf("terminationGracePeriodSeconds %d does not cover the 30 s orderly stop", pod.Grace)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Containers))
	}
	c := pod.Containers[0]
	if !slices.Equal(c.Args, []string{"server"}) {
		t.Errorf("args %v, want [server]", c.Args)
	}
	// Every variable is one the server reads: its -h names them all.
	var usage bytes.Buffer
	serverCmd([]string{"-h"}, io.Discard, &usage)
	known := map[string]bool{"SLUICE_API_TOKEN": true, "SLUICE_SECRET_KEY": true}
	for _, m := range regexp.MustCompile(`env (SLUICE_[A-Z_]+)`).FindAllStringSubmatch(usage.String(), -1) {
		known[m[1]] = true
	}
	env := map[string]string{}
	for _, e := range c.Env {
		if !known[e.Name] {
			t.Errorf("env %s is not read by sluice server", e.Name)
		}
		switch {
		case e.Value != nil:
			env[e.Name] = *e.Value
		case e.ValueFrom != nil:
			vf := e.ValueFrom
			if vf.FieldRef == nil && vf.SecretKeyRef == nil {
				t.Errorf("env %s: valueFrom is neither a fieldRef nor a secretKeyRef", e.Name)
			}
			if vf.FieldRef != nil {
				env[e.Name] = "field:" + vf.FieldRef.FieldPath
			} else if vf.SecretKeyRef != nil {
				env[e.Name] = "secret:" + vf.SecretKeyRef.Key
			}
		}
	}
	want := map[string]string{
		"SLUICE_POSTGRES_URL": "secret:postgres-url", // one shared catalog
		"SLUICE_SECRET_KEY":   "secret:secret-key",   // one key for every replica
		"SLUICE_NODE_ID":      "field:metadata.name", // unique per replica
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("env %s = %q, want %q", k, env[k], v)
		}
	}
	if d, err := time.ParseDuration(env["SLUICE_LEASE_TIME"]); err != nil || d < time.Second || d > 30*time.Second {
		t.Errorf("SLUICE_LEASE_TIME %q: want a failover under 30 s", env["SLUICE_LEASE_TIME"])
	}
	if len(c.Ports) != 1 || !strings.HasSuffix(env["SLUICE_LISTEN"], ":"+itoa(c.Ports[0].ContainerPort)) {
		t.Errorf("the container port %v is not where SLUICE_LISTEN=%q serves", c.Ports, env["SLUICE_LISTEN"])
	}
	if c.Readiness == nil || c.Readiness.HTTPGet.Path != "/readyz" || c.Liveness == nil || c.Liveness.HTTPGet.Path != "/healthz" {
		t.Errorf("probes: readiness %+v liveness %+v, want /readyz and /healthz", c.Readiness, c.Liveness)
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].TargetPort != c.Ports[0].Name {
		t.Errorf("the Service's port %+v does not target the container's", svc.Spec.Ports)
	}
}

func itoa(n int) string {
	b := []byte{}
	for ; n > 0 || len(b) == 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}
