package main

import (
	"regexp"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ServiceMonitor is the part of the Prometheus Operator's
// monitoring.coreos.com/v1 ServiceMonitor that a chart reasonably renders.
// It is hand-written (the operator's Go module is large); every field here
// exists in the operator's CRD with the same name and type, and any field not
// listed is rejected by the strict decoder, so a typo cannot pass.
type ServiceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              ServiceMonitorSpec `json:"spec"`
}

type ServiceMonitorSpec struct {
	JobLabel          string               `json:"jobLabel,omitempty"`
	TargetLabels      []string             `json:"targetLabels,omitempty"`
	PodTargetLabels   []string             `json:"podTargetLabels,omitempty"`
	Endpoints         []Endpoint           `json:"endpoints"`
	Selector          metav1.LabelSelector `json:"selector"`
	NamespaceSelector *NamespaceSelector   `json:"namespaceSelector,omitempty"`
	SampleLimit       *uint64              `json:"sampleLimit,omitempty"`
	ScrapeProtocols   []string             `json:"scrapeProtocols,omitempty"`
}

type NamespaceSelector struct {
	Any        bool     `json:"any,omitempty"`
	MatchNames []string `json:"matchNames,omitempty"`
}

type Endpoint struct {
	Port              string              `json:"port,omitempty"`
	TargetPort        *intstr.IntOrString `json:"targetPort,omitempty"`
	Path              string              `json:"path,omitempty"`
	Scheme            string              `json:"scheme,omitempty"`
	Params            map[string][]string `json:"params,omitempty"`
	Interval          string              `json:"interval,omitempty"`
	ScrapeTimeout     string              `json:"scrapeTimeout,omitempty"`
	HonorLabels       bool                `json:"honorLabels,omitempty"`
	HonorTimestamps   *bool               `json:"honorTimestamps,omitempty"`
	EnableHttp2       *bool               `json:"enableHttp2,omitempty"`
	FollowRedirects   *bool               `json:"followRedirects,omitempty"`
	MetricRelabelings []RelabelConfig     `json:"metricRelabelings,omitempty"`
	Relabelings       []RelabelConfig     `json:"relabelings,omitempty"`
}

type RelabelConfig struct {
	SourceLabels []string `json:"sourceLabels,omitempty"`
	Separator    *string  `json:"separator,omitempty"`
	TargetLabel  string   `json:"targetLabel,omitempty"`
	Regex        string   `json:"regex,omitempty"`
	Modulus      uint64   `json:"modulus,omitempty"`
	Replacement  *string  `json:"replacement,omitempty"`
	Action       string   `json:"action,omitempty"`
}

// durationPattern is the operator's monitoringv1.Duration pattern.
var durationPattern = regexp.MustCompile(`^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$`)

var relabelActions = []string{"replace", "keep", "drop", "hashmod", "labelmap", "labeldrop", "labelkeep", "lowercase", "uppercase", "keepequal", "dropequal"}

func checkServiceMonitor(sm *ServiceMonitor) field.ErrorList {
	spec := field.NewPath("spec")
	var errs field.ErrorList
	if len(sm.Spec.Endpoints) == 0 {
		errs = append(errs, field.Required(spec.Child("endpoints"), "at least one endpoint is required"))
	}
	errs = append(errs, checkSelector(spec.Child("selector"), &sm.Spec.Selector, true)...)
	for i, e := range sm.Spec.Endpoints {
		ep := spec.Child("endpoints").Index(i)
		if e.Port == "" && e.TargetPort == nil {
			errs = append(errs, field.Required(ep.Child("port"), "port (the Service port name) is required"))
		}
		if e.Path != "" && !strings.HasPrefix(e.Path, "/") {
			errs = append(errs, field.Invalid(ep.Child("path"), e.Path, "must start with /"))
		}
		switch strings.ToLower(e.Scheme) {
		case "", "http", "https":
		default:
			errs = append(errs, field.NotSupported(ep.Child("scheme"), e.Scheme, []string{"http", "https"}))
		}
		for name, d := range map[string]string{"interval": e.Interval, "scrapeTimeout": e.ScrapeTimeout} {
			if d != "" && !durationPattern.MatchString(d) {
				errs = append(errs, field.Invalid(ep.Child(name), d, "must be a Prometheus duration such as 30s or 1m"))
			}
		}
		for _, set := range []struct {
			name string
			list []RelabelConfig
		}{{"relabelings", e.Relabelings}, {"metricRelabelings", e.MetricRelabelings}} {
			for j, r := range set.list {
				if r.Action == "" {
					continue
				}
				ok := false
				for _, a := range relabelActions {
					if strings.EqualFold(a, r.Action) {
						ok = true
					}
				}
				if !ok {
					errs = append(errs, field.NotSupported(ep.Child(set.name).Index(j).Child("action"), r.Action, relabelActions))
				}
			}
		}
	}
	return errs
}
