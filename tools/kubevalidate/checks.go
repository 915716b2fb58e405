package main

import (
	"fmt"
	"net"
	"reflect"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/validate/content"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

type nameRule func(string) []string

var (
	dns1123Subdomain nameRule = content.IsDNS1123Subdomain
	dns1123Label     nameRule = content.IsDNS1123Label
	dns1035Label     nameRule = validation.IsDNS1035Label
)

func invalid(path *field.Path, value any, msgs []string) field.ErrorList {
	var errs field.ErrorList
	for _, m := range msgs {
		errs = append(errs, field.Invalid(path, value, m))
	}
	return errs
}

func checkMeta(path *field.Path, m *metav1.ObjectMeta, rule nameRule) field.ErrorList {
	var errs field.ErrorList
	if m.Name == "" {
		errs = append(errs, field.Required(path.Child("name"), "every object needs a name"))
	} else {
		errs = append(errs, invalid(path.Child("name"), m.Name, rule(m.Name))...)
	}
	if m.Namespace != "" {
		errs = append(errs, invalid(path.Child("namespace"), m.Namespace, content.IsDNS1123Label(m.Namespace))...)
	}
	errs = append(errs, checkLabels(path.Child("labels"), m.Labels)...)
	for k := range m.Annotations {
		errs = append(errs, invalid(path.Child("annotations").Key(k), k, content.IsLabelKey(k))...)
	}
	return errs
}

func checkLabels(path *field.Path, l map[string]string) field.ErrorList {
	var errs field.ErrorList
	for k, v := range l {
		errs = append(errs, invalid(path, k, content.IsLabelKey(k))...)
		errs = append(errs, invalid(path.Key(k), v, content.IsLabelValue(v))...)
	}
	return errs
}

func checkSelector(path *field.Path, s *metav1.LabelSelector, required bool) field.ErrorList {
	if s == nil {
		if required {
			return field.ErrorList{field.Required(path, "a label selector is required")}
		}
		return nil
	}
	var errs field.ErrorList
	if required && len(s.MatchLabels) == 0 && len(s.MatchExpressions) == 0 {
		errs = append(errs, field.Required(path, "an empty selector would select every pod"))
	}
	errs = append(errs, checkLabels(path.Child("matchLabels"), s.MatchLabels)...)
	if _, err := metav1.LabelSelectorAsSelector(s); err != nil {
		errs = append(errs, field.Invalid(path, s, err.Error()))
	}
	return errs
}

// countSet counts the non-nil pointer/slice/map fields of a struct: used for
// "exactly one of" unions such as VolumeSource, ProbeHandler, EnvVarSource.
func countSet(v any) int {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer {
		rv = rv.Elem()
	}
	n := 0
	for i := 0; i < rv.NumField(); i++ {
		f := rv.Field(i)
		switch f.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
			if !f.IsNil() {
				n++
			}
		}
	}
	return n
}

func checkPort(path *field.Path, p intstr.IntOrString, names map[string]bool) field.ErrorList {
	if p.Type == intstr.String {
		if names != nil && !names[p.StrVal] {
			return field.ErrorList{field.NotFound(path, p.StrVal)}
		}
		return invalid(path, p.StrVal, validation.IsValidPortName(p.StrVal))
	}
	return invalid(path, p.IntVal, validation.IsValidPortNum(int(p.IntVal)))
}

func checkDeployment(d *appsv1.Deployment) field.ErrorList {
	spec := field.NewPath("spec")
	var errs field.ErrorList
	if d.Spec.Replicas != nil && *d.Spec.Replicas < 0 {
		errs = append(errs, field.Invalid(spec.Child("replicas"), *d.Spec.Replicas, "must be >= 0"))
	}
	errs = append(errs, checkSelector(spec.Child("selector"), d.Spec.Selector, true)...)
	tmplLabels := d.Spec.Template.Labels
	if len(tmplLabels) == 0 {
		errs = append(errs, field.Required(spec.Child("template", "metadata", "labels"), "pod template needs labels for the selector"))
	}
	if d.Spec.Selector != nil {
		if sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector); err == nil && !sel.Matches(labels.Set(tmplLabels)) {
			errs = append(errs, field.Invalid(spec.Child("template", "metadata", "labels"), tmplLabels, "selector does not match template labels"))
		}
	}
	switch d.Spec.Strategy.Type {
	case "", appsv1.RollingUpdateDeploymentStrategyType:
	case appsv1.RecreateDeploymentStrategyType:
		if d.Spec.Strategy.RollingUpdate != nil {
			errs = append(errs, field.Forbidden(spec.Child("strategy", "rollingUpdate"), "may not be set with type Recreate"))
		}
	default:
		errs = append(errs, field.NotSupported(spec.Child("strategy", "type"), d.Spec.Strategy.Type, []string{"RollingUpdate", "Recreate"}))
	}
	errs = append(errs, checkLabels(spec.Child("template", "metadata", "labels"), tmplLabels)...)
	errs = append(errs, checkPodSpec(spec.Child("template", "spec"), &d.Spec.Template.Spec)...)
	return errs
}

func checkPodSpec(path *field.Path, p *corev1.PodSpec) field.ErrorList {
	var errs field.ErrorList
	if len(p.Containers) == 0 {
		errs = append(errs, field.Required(path.Child("containers"), "at least one container is required"))
	}
	switch p.RestartPolicy {
	case "", corev1.RestartPolicyAlways:
	default:
		errs = append(errs, field.NotSupported(path.Child("restartPolicy"), p.RestartPolicy, []string{"Always"}))
	}
	if p.TerminationGracePeriodSeconds != nil && *p.TerminationGracePeriodSeconds < 0 {
		errs = append(errs, field.Invalid(path.Child("terminationGracePeriodSeconds"), *p.TerminationGracePeriodSeconds, "must be >= 0"))
	}
	volumes := map[string]bool{}
	for i, v := range p.Volumes {
		vp := path.Child("volumes").Index(i)
		if v.Name == "" {
			errs = append(errs, field.Required(vp.Child("name"), ""))
		} else {
			errs = append(errs, invalid(vp.Child("name"), v.Name, content.IsDNS1123Label(v.Name))...)
		}
		if volumes[v.Name] {
			errs = append(errs, field.Duplicate(vp.Child("name"), v.Name))
		}
		volumes[v.Name] = true
		if n := countSet(&v.VolumeSource); n != 1 {
			errs = append(errs, field.Invalid(vp, v.Name, fmt.Sprintf("exactly one volume source must be set, found %d", n)))
		}
	}
	for i, s := range p.ImagePullSecrets {
		if s.Name == "" {
			errs = append(errs, field.Required(path.Child("imagePullSecrets").Index(i).Child("name"), ""))
		}
	}
	for i, t := range p.TopologySpreadConstraints {
		tp := path.Child("topologySpreadConstraints").Index(i)
		if t.MaxSkew < 1 {
			errs = append(errs, field.Invalid(tp.Child("maxSkew"), t.MaxSkew, "must be >= 1"))
		}
		if t.TopologyKey == "" {
			errs = append(errs, field.Required(tp.Child("topologyKey"), ""))
		}
		switch t.WhenUnsatisfiable {
		case corev1.DoNotSchedule, corev1.ScheduleAnyway:
		default:
			errs = append(errs, field.NotSupported(tp.Child("whenUnsatisfiable"), t.WhenUnsatisfiable, []string{"DoNotSchedule", "ScheduleAnyway"}))
		}
		errs = append(errs, checkSelector(tp.Child("labelSelector"), t.LabelSelector, false)...)
	}
	names := map[string]bool{}
	for i := range p.InitContainers {
		errs = append(errs, checkContainer(path.Child("initContainers").Index(i), &p.InitContainers[i], volumes, names, false)...)
	}
	for i := range p.Containers {
		errs = append(errs, checkContainer(path.Child("containers").Index(i), &p.Containers[i], volumes, names, true)...)
	}
	return errs
}

func checkContainer(path *field.Path, c *corev1.Container, volumes, names map[string]bool, regular bool) field.ErrorList {
	var errs field.ErrorList
	if c.Name == "" {
		errs = append(errs, field.Required(path.Child("name"), ""))
	} else {
		errs = append(errs, invalid(path.Child("name"), c.Name, dns1123Label(c.Name))...)
		if names[c.Name] {
			errs = append(errs, field.Duplicate(path.Child("name"), c.Name))
		}
		names[c.Name] = true
	}
	if strings.TrimSpace(c.Image) == "" {
		errs = append(errs, field.Required(path.Child("image"), "every container needs an image"))
	}
	switch c.ImagePullPolicy {
	case "", corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever:
	default:
		errs = append(errs, field.NotSupported(path.Child("imagePullPolicy"), c.ImagePullPolicy, []string{"Always", "IfNotPresent", "Never"}))
	}
	portNames := map[string]bool{}
	for i, p := range c.Ports {
		pp := path.Child("ports").Index(i)
		errs = append(errs, invalid(pp.Child("containerPort"), p.ContainerPort, validation.IsValidPortNum(int(p.ContainerPort)))...)
		if p.Name != "" {
			errs = append(errs, invalid(pp.Child("name"), p.Name, validation.IsValidPortName(p.Name))...)
			if portNames[p.Name] {
				errs = append(errs, field.Duplicate(pp.Child("name"), p.Name))
			}
			portNames[p.Name] = true
		}
		errs = append(errs, checkProtocol(pp.Child("protocol"), p.Protocol)...)
	}
	envNames := map[string]bool{}
	for i, e := range c.Env {
		ep := path.Child("env").Index(i)
		if e.Name == "" {
			errs = append(errs, field.Required(ep.Child("name"), ""))
		} else {
			errs = append(errs, invalid(ep.Child("name"), e.Name, validation.IsEnvVarName(e.Name))...)
		}
		if envNames[e.Name] {
			errs = append(errs, field.Duplicate(ep.Child("name"), e.Name))
		}
		envNames[e.Name] = true
		if e.ValueFrom != nil {
			if e.Value != "" {
				errs = append(errs, field.Invalid(ep, e.Name, "value and valueFrom are mutually exclusive"))
			}
			if n := countSet(e.ValueFrom); n != 1 {
				errs = append(errs, field.Invalid(ep.Child("valueFrom"), e.Name, fmt.Sprintf("exactly one source must be set, found %d", n)))
			}
			if r := e.ValueFrom.SecretKeyRef; r != nil && (r.Name == "" || r.Key == "") {
				errs = append(errs, field.Required(ep.Child("valueFrom", "secretKeyRef"), "name and key are required"))
			}
			if r := e.ValueFrom.ConfigMapKeyRef; r != nil && (r.Name == "" || r.Key == "") {
				errs = append(errs, field.Required(ep.Child("valueFrom", "configMapKeyRef"), "name and key are required"))
			}
		}
	}
	for i, e := range c.EnvFrom {
		ep := path.Child("envFrom").Index(i)
		switch {
		case e.ConfigMapRef != nil && e.SecretRef != nil:
			errs = append(errs, field.Invalid(ep, "", "configMapRef and secretRef are mutually exclusive"))
		case e.ConfigMapRef != nil && e.ConfigMapRef.Name == "":
			errs = append(errs, field.Required(ep.Child("configMapRef", "name"), ""))
		case e.SecretRef != nil && e.SecretRef.Name == "":
			errs = append(errs, field.Required(ep.Child("secretRef", "name"), ""))
		case e.ConfigMapRef == nil && e.SecretRef == nil:
			errs = append(errs, field.Required(ep, "one of configMapRef or secretRef is required"))
		}
	}
	mounts := map[string]bool{}
	for i, m := range c.VolumeMounts {
		mp := path.Child("volumeMounts").Index(i)
		if !volumes[m.Name] {
			errs = append(errs, field.NotFound(mp.Child("name"), m.Name))
		}
		if !strings.HasPrefix(m.MountPath, "/") {
			errs = append(errs, field.Invalid(mp.Child("mountPath"), m.MountPath, "must be an absolute path"))
		}
		if mounts[m.MountPath] {
			errs = append(errs, field.Duplicate(mp.Child("mountPath"), m.MountPath))
		}
		mounts[m.MountPath] = true
	}
	if !regular && (c.LivenessProbe != nil || c.ReadinessProbe != nil) && c.RestartPolicy == nil {
		errs = append(errs, field.Forbidden(path, "init containers may not have liveness or readiness probes"))
	}
	errs = append(errs, checkProbe(path.Child("livenessProbe"), c.LivenessProbe, portNames, true)...)
	errs = append(errs, checkProbe(path.Child("readinessProbe"), c.ReadinessProbe, portNames, false)...)
	errs = append(errs, checkProbe(path.Child("startupProbe"), c.StartupProbe, portNames, true)...)
	if c.Lifecycle != nil {
		for name, h := range map[string]*corev1.LifecycleHandler{"preStop": c.Lifecycle.PreStop, "postStart": c.Lifecycle.PostStart} {
			if h != nil && countSet(h) != 1 {
				errs = append(errs, field.Invalid(path.Child("lifecycle", name), "", "exactly one handler must be set"))
			}
			if h != nil && h.Sleep != nil && h.Sleep.Seconds < 0 {
				errs = append(errs, field.Invalid(path.Child("lifecycle", name, "sleep", "seconds"), h.Sleep.Seconds, "must be >= 0"))
			}
		}
	}
	for name, limit := range c.Resources.Limits {
		if req, ok := c.Resources.Requests[name]; ok && req.Cmp(limit) > 0 {
			errs = append(errs, field.Invalid(path.Child("resources", "requests").Key(string(name)), req.String(), "must be less than or equal to the limit "+limit.String()))
		}
	}
	if sc := c.SecurityContext; sc != nil {
		if sc.RunAsUser != nil && *sc.RunAsUser < 0 {
			errs = append(errs, field.Invalid(path.Child("securityContext", "runAsUser"), *sc.RunAsUser, "must be >= 0"))
		}
		if isTrue(sc.Privileged) && sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation {
			errs = append(errs, field.Invalid(path.Child("securityContext"), "", "cannot set allowPrivilegeEscalation to false and privileged to true"))
		}
	}
	return errs
}

func checkProtocol(path *field.Path, p corev1.Protocol) field.ErrorList {
	switch p {
	case "", corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP:
		return nil
	}
	return field.ErrorList{field.NotSupported(path, p, []string{"TCP", "UDP", "SCTP"})}
}

func checkProbe(path *field.Path, p *corev1.Probe, portNames map[string]bool, needsSingleSuccess bool) field.ErrorList {
	if p == nil {
		return nil
	}
	var errs field.ErrorList
	if n := countSet(&p.ProbeHandler); n != 1 {
		errs = append(errs, field.Invalid(path, "", fmt.Sprintf("exactly one handler (exec, httpGet, tcpSocket, grpc) must be set, found %d", n)))
	}
	if h := p.HTTPGet; h != nil {
		if h.Path != "" && !strings.HasPrefix(h.Path, "/") {
			errs = append(errs, field.Invalid(path.Child("httpGet", "path"), h.Path, "must start with /"))
		}
		errs = append(errs, checkPort(path.Child("httpGet", "port"), h.Port, namesOrNil(h.Port, portNames))...)
		switch h.Scheme {
		case "", corev1.URISchemeHTTP, corev1.URISchemeHTTPS:
		default:
			errs = append(errs, field.NotSupported(path.Child("httpGet", "scheme"), h.Scheme, []string{"HTTP", "HTTPS"}))
		}
	}
	if t := p.TCPSocket; t != nil {
		errs = append(errs, checkPort(path.Child("tcpSocket", "port"), t.Port, namesOrNil(t.Port, portNames))...)
	}
	if e := p.Exec; e != nil && len(e.Command) == 0 {
		errs = append(errs, field.Required(path.Child("exec", "command"), ""))
	}
	for name, v := range map[string]int32{"initialDelaySeconds": p.InitialDelaySeconds, "periodSeconds": p.PeriodSeconds, "timeoutSeconds": p.TimeoutSeconds, "successThreshold": p.SuccessThreshold, "failureThreshold": p.FailureThreshold} {
		if v < 0 {
			errs = append(errs, field.Invalid(path.Child(name), v, "must be >= 0"))
		}
	}
	if needsSingleSuccess && p.SuccessThreshold > 1 {
		errs = append(errs, field.Invalid(path.Child("successThreshold"), p.SuccessThreshold, "must be 1 for liveness and startup probes"))
	}
	return errs
}

// namesOrNil returns the container's port names when the probe uses a named port.
func namesOrNil(p intstr.IntOrString, names map[string]bool) map[string]bool {
	if p.Type == intstr.String {
		return names
	}
	return nil
}

func checkService(s *corev1.Service) field.ErrorList {
	spec := field.NewPath("spec")
	var errs field.ErrorList
	switch s.Spec.Type {
	case "", corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort, corev1.ServiceTypeLoadBalancer:
		if len(s.Spec.Ports) == 0 {
			errs = append(errs, field.Required(spec.Child("ports"), "at least one port is required"))
		}
	case corev1.ServiceTypeExternalName:
	default:
		errs = append(errs, field.NotSupported(spec.Child("type"), s.Spec.Type, []string{"ClusterIP", "NodePort", "LoadBalancer", "ExternalName"}))
	}
	names := map[string]bool{}
	for i, p := range s.Spec.Ports {
		pp := spec.Child("ports").Index(i)
		errs = append(errs, invalid(pp.Child("port"), p.Port, validation.IsValidPortNum(int(p.Port)))...)
		if p.Name == "" && len(s.Spec.Ports) > 1 {
			errs = append(errs, field.Required(pp.Child("name"), "required when a Service has more than one port"))
		}
		if p.Name != "" {
			errs = append(errs, invalid(pp.Child("name"), p.Name, content.IsDNS1123Label(p.Name))...)
			if names[p.Name] {
				errs = append(errs, field.Duplicate(pp.Child("name"), p.Name))
			}
			names[p.Name] = true
		}
		if p.TargetPort.Type == intstr.String || p.TargetPort.IntVal != 0 {
			errs = append(errs, checkPort(pp.Child("targetPort"), p.TargetPort, nil)...)
		}
		errs = append(errs, checkProtocol(pp.Child("protocol"), p.Protocol)...)
	}
	errs = append(errs, checkLabels(spec.Child("selector"), s.Spec.Selector)...)
	return errs
}

func checkConfigMap(c *corev1.ConfigMap) field.ErrorList {
	var errs field.ErrorList
	for k := range c.Data {
		errs = append(errs, invalid(field.NewPath("data").Key(k), k, validation.IsConfigMapKey(k))...)
		if _, dup := c.BinaryData[k]; dup {
			errs = append(errs, field.Duplicate(field.NewPath("binaryData").Key(k), k))
		}
	}
	return errs
}

func checkSecret(s *corev1.Secret) field.ErrorList {
	var errs field.ErrorList
	for k := range s.Data {
		errs = append(errs, invalid(field.NewPath("data").Key(k), k, validation.IsConfigMapKey(k))...)
	}
	for k := range s.StringData {
		errs = append(errs, invalid(field.NewPath("stringData").Key(k), k, validation.IsConfigMapKey(k))...)
	}
	return errs
}

func checkHost(path *field.Path, host string) field.ErrorList {
	if strings.HasPrefix(host, "*.") {
		return invalid(path, host, content.IsDNS1123Subdomain(host[2:]))
	}
	if net.ParseIP(host) != nil {
		return field.ErrorList{field.Invalid(path, host, "must be a DNS name, not an IP address")}
	}
	return invalid(path, host, content.IsDNS1123Subdomain(host))
}

func checkIngress(in *networkingv1.Ingress) field.ErrorList {
	spec := field.NewPath("spec")
	var errs field.ErrorList
	if c := in.Spec.IngressClassName; c != nil {
		errs = append(errs, invalid(spec.Child("ingressClassName"), *c, content.IsDNS1123Subdomain(*c))...)
	}
	if len(in.Spec.Rules) == 0 && in.Spec.DefaultBackend == nil {
		errs = append(errs, field.Required(spec.Child("rules"), "either rules or defaultBackend is required"))
	}
	errs = append(errs, checkBackend(spec.Child("defaultBackend"), in.Spec.DefaultBackend)...)
	for i, r := range in.Spec.Rules {
		rp := spec.Child("rules").Index(i)
		if r.Host != "" {
			errs = append(errs, checkHost(rp.Child("host"), r.Host)...)
		}
		if r.HTTP == nil {
			continue
		}
		if len(r.HTTP.Paths) == 0 {
			errs = append(errs, field.Required(rp.Child("http", "paths"), ""))
		}
		for j, p := range r.HTTP.Paths {
			pp := rp.Child("http", "paths").Index(j)
			if !strings.HasPrefix(p.Path, "/") {
				errs = append(errs, field.Invalid(pp.Child("path"), p.Path, "must be an absolute path"))
			}
			if p.PathType == nil {
				errs = append(errs, field.Required(pp.Child("pathType"), "required in networking.k8s.io/v1"))
			} else {
				switch *p.PathType {
				case networkingv1.PathTypeExact, networkingv1.PathTypePrefix, networkingv1.PathTypeImplementationSpecific:
				default:
					errs = append(errs, field.NotSupported(pp.Child("pathType"), *p.PathType, []string{"Exact", "Prefix", "ImplementationSpecific"}))
				}
			}
			b := p.Backend
			errs = append(errs, checkBackend(pp.Child("backend"), &b)...)
		}
	}
	for i, t := range in.Spec.TLS {
		for j, h := range t.Hosts {
			errs = append(errs, checkHost(spec.Child("tls").Index(i).Child("hosts").Index(j), h)...)
		}
		if t.SecretName != "" {
			errs = append(errs, invalid(spec.Child("tls").Index(i).Child("secretName"), t.SecretName, content.IsDNS1123Subdomain(t.SecretName))...)
		}
	}
	return errs
}

func checkBackend(path *field.Path, b *networkingv1.IngressBackend) field.ErrorList {
	if b == nil {
		return nil
	}
	if (b.Service == nil) == (b.Resource == nil) {
		return field.ErrorList{field.Invalid(path, "", "exactly one of service or resource must be set")}
	}
	var errs field.ErrorList
	if s := b.Service; s != nil {
		if s.Name == "" {
			errs = append(errs, field.Required(path.Child("service", "name"), ""))
		}
		if (s.Port.Name == "") == (s.Port.Number == 0) {
			errs = append(errs, field.Invalid(path.Child("service", "port"), s.Port, "exactly one of name or number must be set"))
		}
		if s.Port.Number != 0 {
			errs = append(errs, invalid(path.Child("service", "port", "number"), s.Port.Number, validation.IsValidPortNum(int(s.Port.Number)))...)
		}
	}
	return errs
}

func checkNetworkPolicy(np *networkingv1.NetworkPolicy) field.ErrorList {
	spec := field.NewPath("spec")
	errs := checkSelector(spec.Child("podSelector"), &np.Spec.PodSelector, false)
	for i, t := range np.Spec.PolicyTypes {
		switch t {
		case networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress:
		default:
			errs = append(errs, field.NotSupported(spec.Child("policyTypes").Index(i), t, []string{"Ingress", "Egress"}))
		}
	}
	checkPorts := func(path *field.Path, ports []networkingv1.NetworkPolicyPort) {
		for i, p := range ports {
			pp := path.Index(i)
			if p.Protocol != nil {
				errs = append(errs, checkProtocol(pp.Child("protocol"), *p.Protocol)...)
			}
			if p.Port != nil {
				errs = append(errs, checkPort(pp.Child("port"), *p.Port, nil)...)
			}
			if p.EndPort != nil {
				if p.Port == nil || p.Port.Type != intstr.Int || *p.EndPort < p.Port.IntVal {
					errs = append(errs, field.Invalid(pp.Child("endPort"), *p.EndPort, "needs a numeric port not greater than endPort"))
				}
			}
		}
	}
	checkPeers := func(path *field.Path, peers []networkingv1.NetworkPolicyPeer) {
		for i, p := range peers {
			pp := path.Index(i)
			if p.IPBlock != nil {
				if p.PodSelector != nil || p.NamespaceSelector != nil {
					errs = append(errs, field.Forbidden(pp, "ipBlock may not be combined with podSelector or namespaceSelector"))
				}
				if _, _, err := net.ParseCIDR(p.IPBlock.CIDR); err != nil {
					errs = append(errs, field.Invalid(pp.Child("ipBlock", "cidr"), p.IPBlock.CIDR, "must be a CIDR such as 10.0.0.0/8"))
				}
				for j, ex := range p.IPBlock.Except {
					if _, _, err := net.ParseCIDR(ex); err != nil {
						errs = append(errs, field.Invalid(pp.Child("ipBlock", "except").Index(j), ex, "must be a CIDR"))
					}
				}
			} else if p.PodSelector == nil && p.NamespaceSelector == nil {
				errs = append(errs, field.Required(pp, "one of podSelector, namespaceSelector or ipBlock is required"))
			}
			errs = append(errs, checkSelector(pp.Child("podSelector"), p.PodSelector, false)...)
			errs = append(errs, checkSelector(pp.Child("namespaceSelector"), p.NamespaceSelector, false)...)
		}
	}
	for i, r := range np.Spec.Ingress {
		checkPorts(spec.Child("ingress").Index(i).Child("ports"), r.Ports)
		checkPeers(spec.Child("ingress").Index(i).Child("from"), r.From)
	}
	for i, r := range np.Spec.Egress {
		checkPorts(spec.Child("egress").Index(i).Child("ports"), r.Ports)
		checkPeers(spec.Child("egress").Index(i).Child("to"), r.To)
	}
	return errs
}

func checkIntOrPercent(path *field.Path, v *intstr.IntOrString) field.ErrorList {
	if v == nil {
		return nil
	}
	if v.Type == intstr.String {
		return invalid(path, v.StrVal, validation.IsValidPercent(v.StrVal))
	}
	if v.IntVal < 0 {
		return field.ErrorList{field.Invalid(path, v.IntVal, "must be >= 0")}
	}
	return nil
}

func checkPDB(p *policyv1.PodDisruptionBudget) field.ErrorList {
	spec := field.NewPath("spec")
	var errs field.ErrorList
	if (p.Spec.MinAvailable == nil) == (p.Spec.MaxUnavailable == nil) {
		errs = append(errs, field.Invalid(spec, "", "exactly one of minAvailable or maxUnavailable must be set"))
	}
	errs = append(errs, checkIntOrPercent(spec.Child("minAvailable"), p.Spec.MinAvailable)...)
	errs = append(errs, checkIntOrPercent(spec.Child("maxUnavailable"), p.Spec.MaxUnavailable)...)
	errs = append(errs, checkSelector(spec.Child("selector"), p.Spec.Selector, true)...)
	return errs
}

func checkHPA(h *autoscalingv2.HorizontalPodAutoscaler) field.ErrorList {
	spec := field.NewPath("spec")
	var errs field.ErrorList
	ref := h.Spec.ScaleTargetRef
	if ref.Kind == "" || ref.Name == "" {
		errs = append(errs, field.Required(spec.Child("scaleTargetRef"), "kind and name are required"))
	}
	if h.Spec.MaxReplicas < 1 {
		errs = append(errs, field.Invalid(spec.Child("maxReplicas"), h.Spec.MaxReplicas, "must be >= 1"))
	}
	if m := h.Spec.MinReplicas; m != nil {
		if *m < 1 {
			errs = append(errs, field.Invalid(spec.Child("minReplicas"), *m, "must be >= 1"))
		}
		if *m > h.Spec.MaxReplicas {
			errs = append(errs, field.Invalid(spec.Child("minReplicas"), *m, "must not exceed maxReplicas"))
		}
	}
	for i, m := range h.Spec.Metrics {
		mp := spec.Child("metrics").Index(i)
		switch m.Type {
		case autoscalingv2.ResourceMetricSourceType:
			if m.Resource == nil {
				errs = append(errs, field.Required(mp.Child("resource"), "required for type Resource"))
				continue
			}
			errs = append(errs, checkMetricTarget(mp.Child("resource", "target"), m.Resource.Target)...)
		case autoscalingv2.PodsMetricSourceType, autoscalingv2.ObjectMetricSourceType, autoscalingv2.ExternalMetricSourceType, autoscalingv2.ContainerResourceMetricSourceType:
		default:
			errs = append(errs, field.NotSupported(mp.Child("type"), m.Type, []string{"Resource", "Pods", "Object", "External", "ContainerResource"}))
		}
		if n := countSet(&m); n != 1 {
			errs = append(errs, field.Invalid(mp, m.Type, fmt.Sprintf("exactly one metric source must be set, found %d", n)))
		}
	}
	return errs
}

func checkMetricTarget(path *field.Path, t autoscalingv2.MetricTarget) field.ErrorList {
	switch t.Type {
	case autoscalingv2.UtilizationMetricType:
		if t.AverageUtilization == nil || *t.AverageUtilization < 1 {
			return field.ErrorList{field.Required(path.Child("averageUtilization"), "a positive value is required for type Utilization")}
		}
	case autoscalingv2.AverageValueMetricType:
		if t.AverageValue == nil {
			return field.ErrorList{field.Required(path.Child("averageValue"), "required for type AverageValue")}
		}
	case autoscalingv2.ValueMetricType:
		if t.Value == nil {
			return field.ErrorList{field.Required(path.Child("value"), "required for type Value")}
		}
	default:
		return field.ErrorList{field.NotSupported(path.Child("type"), t.Type, []string{"Utilization", "Value", "AverageValue"})}
	}
	return nil
}

// checkPVC: a claim needs at least one access mode and a positive storage request.
func checkPVC(c *corev1.PersistentVolumeClaim) field.ErrorList {
	var errs field.ErrorList
	spec := field.NewPath("spec")
	if len(c.Spec.AccessModes) == 0 {
		errs = append(errs, field.Required(spec.Child("accessModes"), "at least one access mode"))
	}
	storage, ok := c.Spec.Resources.Requests[corev1.ResourceStorage]
	if !ok || storage.Sign() <= 0 {
		errs = append(errs, field.Required(spec.Child("resources", "requests", "storage"), "a positive size"))
	}
	return errs
}
