package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"
	sigsjson "sigs.k8s.io/json"
)

// newObject returns an empty typed object for each apiVersion/kind this tool
// knows. Anything else is rejected: an unknown kind would go unchecked.
var newObject = map[string]func() any{
	"apps/v1/Deployment":                      func() any { return &appsv1.Deployment{} },
	"v1/Service":                              func() any { return &corev1.Service{} },
	"v1/ConfigMap":                            func() any { return &corev1.ConfigMap{} },
	"v1/Secret":                               func() any { return &corev1.Secret{} },
	"v1/ServiceAccount":                       func() any { return &corev1.ServiceAccount{} },
	"v1/PersistentVolumeClaim":                func() any { return &corev1.PersistentVolumeClaim{} },
	"networking.k8s.io/v1/Ingress":            func() any { return &networkingv1.Ingress{} },
	"networking.k8s.io/v1/NetworkPolicy":      func() any { return &networkingv1.NetworkPolicy{} },
	"policy/v1/PodDisruptionBudget":           func() any { return &policyv1.PodDisruptionBudget{} },
	"autoscaling/v2/HorizontalPodAutoscaler":  func() any { return &autoscalingv2.HorizontalPodAutoscaler{} },
	"monitoring.coreos.com/v1/ServiceMonitor": func() any { return &ServiceMonitor{} },
}

func knownKinds() string {
	keys := make([]string, 0, len(newObject))
	for k := range newObject {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}

// object is one successfully decoded document.
type object struct {
	doc  Doc
	kind string
	meta *metav1.ObjectMeta
	obj  any
}

func (o *object) label() string {
	return fmt.Sprintf("%s document %d (%s/%s)", o.doc.Source, o.doc.Index, o.kind, o.meta.Name)
}

// Validate decodes every document strictly, checks each one, then checks
// references between them. It returns one line per problem.
func Validate(docs []Doc) []string {
	var problems []string
	var objects []*object
	seen := map[string]string{}

	for _, d := range docs {
		var tm metav1.TypeMeta
		if err := json.Unmarshal(d.JSON, &tm); err != nil {
			problems = append(problems, fmt.Sprintf("%s document %d: cannot read apiVersion/kind: %v", d.Source, d.Index, err))
			continue
		}
		where := fmt.Sprintf("%s document %d (%s %s)", d.Source, d.Index, orMissing(tm.APIVersion), orMissing(tm.Kind))
		if tm.APIVersion == "" || tm.Kind == "" {
			problems = append(problems, where+": apiVersion and kind are required")
			continue
		}
		factory, ok := newObject[tm.APIVersion+"/"+tm.Kind]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: unknown or unsupported apiVersion/kind %s/%s (known: %s)", where, tm.APIVersion, tm.Kind, knownKinds()))
			continue
		}
		obj := factory()
		strictErrs, err := sigsjson.UnmarshalStrict(d.JSON, obj, sigsjson.DisallowDuplicateFields, sigsjson.DisallowUnknownFields)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", where, err))
			continue
		}
		if len(strictErrs) > 0 {
			for _, e := range strictErrs {
				problems = append(problems, fmt.Sprintf("%s: %v", where, e))
			}
			continue
		}
		o := &object{doc: d, kind: tm.Kind, meta: objectMeta(obj), obj: obj}
		key := tm.Kind + "/" + o.meta.Name
		if prev, dup := seen[key]; dup && o.meta.Name != "" {
			problems = append(problems, fmt.Sprintf("%s: duplicate %s, already defined in %s", o.label(), key, prev))
		}
		seen[key] = o.label()
		for _, e := range checkObject(o) {
			problems = append(problems, fmt.Sprintf("%s: %s", o.label(), e.Error()))
		}
		objects = append(objects, o)
	}
	problems = append(problems, crossCheck(objects)...)
	return problems
}

func orMissing(s string) string {
	if s == "" {
		return "<missing>"
	}
	return s
}

func objectMeta(obj any) *metav1.ObjectMeta {
	switch v := obj.(type) {
	case *appsv1.Deployment:
		return &v.ObjectMeta
	case *corev1.Service:
		return &v.ObjectMeta
	case *corev1.ConfigMap:
		return &v.ObjectMeta
	case *corev1.Secret:
		return &v.ObjectMeta
	case *corev1.ServiceAccount:
		return &v.ObjectMeta
	case *corev1.PersistentVolumeClaim:
		return &v.ObjectMeta
	case *networkingv1.Ingress:
		return &v.ObjectMeta
	case *networkingv1.NetworkPolicy:
		return &v.ObjectMeta
	case *policyv1.PodDisruptionBudget:
		return &v.ObjectMeta
	case *autoscalingv2.HorizontalPodAutoscaler:
		return &v.ObjectMeta
	case *ServiceMonitor:
		return &v.ObjectMeta
	}
	panic(fmt.Sprintf("objectMeta: unhandled type %T", obj))
}

func checkObject(o *object) field.ErrorList {
	meta := field.NewPath("metadata")
	switch v := o.obj.(type) {
	case *appsv1.Deployment:
		return append(checkMeta(meta, &v.ObjectMeta, dns1123Subdomain), checkDeployment(v)...)
	case *corev1.Service:
		return append(checkMeta(meta, &v.ObjectMeta, dns1035Label), checkService(v)...)
	case *corev1.ConfigMap:
		return append(checkMeta(meta, &v.ObjectMeta, dns1123Subdomain), checkConfigMap(v)...)
	case *corev1.Secret:
		return append(checkMeta(meta, &v.ObjectMeta, dns1123Subdomain), checkSecret(v)...)
	case *corev1.ServiceAccount:
		return checkMeta(meta, &v.ObjectMeta, dns1123Subdomain)
	case *corev1.PersistentVolumeClaim:
		return append(checkMeta(meta, &v.ObjectMeta, dns1123Subdomain), checkPVC(v)...)
	case *networkingv1.Ingress:
		return append(checkMeta(meta, &v.ObjectMeta, dns1123Subdomain), checkIngress(v)...)
	case *networkingv1.NetworkPolicy:
		return append(checkMeta(meta, &v.ObjectMeta, dns1123Subdomain), checkNetworkPolicy(v)...)
	case *policyv1.PodDisruptionBudget:
		return append(checkMeta(meta, &v.ObjectMeta, dns1123Subdomain), checkPDB(v)...)
	case *autoscalingv2.HorizontalPodAutoscaler:
		return append(checkMeta(meta, &v.ObjectMeta, dns1123Subdomain), checkHPA(v)...)
	case *ServiceMonitor:
		return append(checkMeta(meta, &v.ObjectMeta, dns1123Subdomain), checkServiceMonitor(v)...)
	}
	return nil
}

// crossCheck verifies references between the rendered objects: env keys of
// rendered ConfigMaps/Secrets, Service and policy selectors that select pods,
// Ingress backends, autoscaler targets and ServiceMonitor ports.
func crossCheck(objects []*object) []string {
	var problems []string
	add := func(o *object, format string, args ...any) {
		problems = append(problems, o.label()+": "+fmt.Sprintf(format, args...))
	}
	configMaps := map[string]map[string]bool{}
	secrets := map[string]map[string]bool{}
	services := map[string]*corev1.Service{}
	var deployments []*appsv1.Deployment
	for _, o := range objects {
		switch v := o.obj.(type) {
		case *corev1.ConfigMap:
			keys := map[string]bool{}
			for k := range v.Data {
				keys[k] = true
			}
			for k := range v.BinaryData {
				keys[k] = true
			}
			configMaps[v.Name] = keys
		case *corev1.Secret:
			keys := map[string]bool{}
			for k := range v.Data {
				keys[k] = true
			}
			for k := range v.StringData {
				keys[k] = true
			}
			secrets[v.Name] = keys
		case *corev1.Service:
			services[v.Name] = v
		case *appsv1.Deployment:
			deployments = append(deployments, v)
		}
	}
	podsMatching := func(sel labels.Selector) []*appsv1.Deployment {
		var out []*appsv1.Deployment
		for _, d := range deployments {
			if sel.Matches(labels.Set(d.Spec.Template.Labels)) {
				out = append(out, d)
			}
		}
		return out
	}

	for _, o := range objects {
		switch v := o.obj.(type) {
		case *appsv1.Deployment:
			pod := field.NewPath("spec", "template", "spec")
			all := append(append([]corev1.Container{}, v.Spec.Template.Spec.InitContainers...), v.Spec.Template.Spec.Containers...)
			for ci, c := range all {
				cp := pod.Child("containers").Index(ci)
				for ei, e := range c.Env {
					if e.ValueFrom == nil {
						continue
					}
					ep := cp.Child("env").Index(ei).Child("valueFrom")
					if r := e.ValueFrom.SecretKeyRef; r != nil && !isTrue(r.Optional) {
						if keys, ok := secrets[r.Name]; ok && !keys[r.Key] {
							add(o, "%s: env %s refers to key %q that Secret %q (rendered here) does not have", ep.Child("secretKeyRef"), e.Name, r.Key, r.Name)
						}
					}
					if r := e.ValueFrom.ConfigMapKeyRef; r != nil && !isTrue(r.Optional) {
						if keys, ok := configMaps[r.Name]; ok && !keys[r.Key] {
							add(o, "%s: env %s refers to key %q that ConfigMap %q (rendered here) does not have", ep.Child("configMapKeyRef"), e.Name, r.Key, r.Name)
						}
					}
				}
			}
		case *corev1.Service:
			if len(v.Spec.Selector) == 0 || len(deployments) == 0 {
				continue
			}
			matched := podsMatching(labels.SelectorFromSet(v.Spec.Selector))
			if len(matched) == 0 {
				add(o, "spec.selector %v selects no pods of the Deployments rendered here", v.Spec.Selector)
				continue
			}
			for pi, p := range v.Spec.Ports {
				if p.TargetPort.StrVal == "" {
					continue
				}
				for _, d := range matched {
					if !podHasPortName(&d.Spec.Template.Spec, p.TargetPort.StrVal) {
						add(o, "spec.ports[%d].targetPort: port name %q is not declared by the containers of Deployment %s", pi, p.TargetPort.StrVal, d.Name)
					}
				}
			}
		case *networkingv1.Ingress:
			check := func(path *field.Path, b *networkingv1.IngressBackend) {
				if b == nil || b.Service == nil {
					return
				}
				svc, ok := services[b.Service.Name]
				if !ok {
					add(o, "%s: Service %q is not rendered here", path.Child("service", "name"), b.Service.Name)
					return
				}
				if !serviceHasPort(svc, b.Service.Port) {
					add(o, "%s: Service %q has no port %s", path.Child("service", "port"), svc.Name, portString(b.Service.Port))
				}
			}
			check(field.NewPath("spec", "defaultBackend"), v.Spec.DefaultBackend)
			for ri, r := range v.Spec.Rules {
				if r.HTTP == nil {
					continue
				}
				for pi := range r.HTTP.Paths {
					check(field.NewPath("spec", "rules").Index(ri).Child("http", "paths").Index(pi).Child("backend"), &r.HTTP.Paths[pi].Backend)
				}
			}
		case *autoscalingv2.HorizontalPodAutoscaler:
			ref := v.Spec.ScaleTargetRef
			if ref.Kind != "Deployment" {
				continue
			}
			found := false
			for _, d := range deployments {
				if d.Name == ref.Name {
					found = true
				}
			}
			if !found {
				add(o, "spec.scaleTargetRef: Deployment %q is not rendered here", ref.Name)
			}
		case *policyv1.PodDisruptionBudget:
			if sel, err := metav1.LabelSelectorAsSelector(v.Spec.Selector); err == nil && v.Spec.Selector != nil && len(deployments) > 0 {
				if len(podsMatching(sel)) == 0 {
					add(o, "spec.selector selects no pods of the Deployments rendered here")
				}
			}
		case *networkingv1.NetworkPolicy:
			if sel, err := metav1.LabelSelectorAsSelector(&v.Spec.PodSelector); err == nil && len(deployments) > 0 {
				if len(podsMatching(sel)) == 0 {
					add(o, "spec.podSelector selects no pods of the Deployments rendered here")
				}
			}
		case *ServiceMonitor:
			sel, err := metav1.LabelSelectorAsSelector(&v.Spec.Selector)
			if err != nil {
				continue
			}
			var matched []*corev1.Service
			for _, s := range services {
				if sel.Matches(labels.Set(s.Labels)) {
					matched = append(matched, s)
				}
			}
			if len(matched) == 0 {
				add(o, "spec.selector selects no Service rendered here")
				continue
			}
			for ei, e := range v.Spec.Endpoints {
				if e.Port == "" {
					continue
				}
				for _, s := range matched {
					if !serviceHasPort(s, networkingv1.ServiceBackendPort{Name: e.Port}) {
						add(o, "spec.endpoints[%d].port: Service %q has no port named %q", ei, s.Name, e.Port)
					}
				}
			}
		}
	}
	return problems
}

func isTrue(b *bool) bool { return b != nil && *b }

func podHasPortName(spec *corev1.PodSpec, name string) bool {
	for _, c := range spec.Containers {
		for _, p := range c.Ports {
			if p.Name == name {
				return true
			}
		}
	}
	return false
}

func serviceHasPort(s *corev1.Service, port networkingv1.ServiceBackendPort) bool {
	for _, p := range s.Spec.Ports {
		if (port.Name != "" && p.Name == port.Name) || (port.Name == "" && p.Port == port.Number) {
			return true
		}
	}
	return false
}

func portString(p networkingv1.ServiceBackendPort) string {
	if p.Name != "" {
		return fmt.Sprintf("named %q", p.Name)
	}
	return fmt.Sprintf("%d", p.Number)
}
