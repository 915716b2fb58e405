{{/*
Chart name, truncated to a valid label value.
*/}}
{{- define "wst.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name: "<release>-<chart>" unless the release name already contains the
chart name. Truncated to 57 so "-redis" still fits in 63 characters.
*/}}
{{- define "wst.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 57 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 57 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 57 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "wst.redisName" -}}
{{- printf "%s-redis" (include "wst.fullname" .) }}
{{- end }}

{{- define "wst.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels.
*/}}
{{- define "wst.labels" -}}
helm.sh/chart: {{ include "wst.chart" . }}
{{ include "wst.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: webex-scoped-tokens
{{- end }}

{{/*
Selector labels shared by every component of a release.
*/}}
{{- define "wst.selectorLabels" -}}
app.kubernetes.io/name: {{ include "wst.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Selector labels of the application pods (never match the bundled Redis).
*/}}
{{- define "wst.serverSelectorLabels" -}}
{{ include "wst.selectorLabels" . }}
app.kubernetes.io/component: server
{{- end }}

{{- define "wst.redisSelectorLabels" -}}
{{ include "wst.selectorLabels" . }}
app.kubernetes.io/component: redis
{{- end }}

{{- define "wst.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "wst.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Image reference: repository@digest, or repository:tag (tag defaults to appVersion).
*/}}
{{- define "wst.image" -}}
{{- if .image.digest }}
{{- printf "%s@%s" .image.repository .image.digest }}
{{- else }}
{{- printf "%s:%s" .image.repository (default .appVersion .image.tag) }}
{{- end }}
{{- end }}

{{/*
PUBLIC_URL: publicUrl, else https://<first ingress host>.
*/}}
{{- define "wst.publicUrl" -}}
{{- if .Values.publicUrl }}
{{- .Values.publicUrl | trimSuffix "/" }}
{{- else if and .Values.ingress.enabled .Values.ingress.hosts }}
{{- printf "https://%s" (first .Values.ingress.hosts).host }}
{{- else }}
{{- fail "webex-scoped-tokens: the public URL is unknown; set ingress.hosts[0].host (e.g. --set ingress.hosts[0].host=tokens.example.com) or publicUrl" }}
{{- end }}
{{- end }}

{{/*
REDIRECT_URI: redirectUri, else PUBLIC_URL + /oauth. Register this one at Webex.
*/}}
{{- define "wst.redirectUri" -}}
{{- default (printf "%s/oauth" (include "wst.publicUrl" .)) .Values.redirectUri }}
{{- end }}

{{/*
Name of the Secret holding CLIENT_ID, CLIENT_SECRET, TOKEN_ENCRYPTION_KEY.
*/}}
{{- define "wst.secretName" -}}
{{- default (include "wst.fullname" .) .Values.existingSecret }}
{{- end }}

{{/*
Where REDIS_URL comes from, as "secretName/key".
*/}}
{{- define "wst.redisUrlRef" -}}
{{- if .Values.redis.enabled }}
{{- printf "%s/%s" (include "wst.redisName" .) "redis-url" }}
{{- else if .Values.redis.existingSecret }}
{{- printf "%s/%s" .Values.redis.existingSecret .Values.redis.existingSecretKey }}
{{- else }}
{{- printf "%s/%s" (include "wst.fullname" .) "REDIS_URL" }}
{{- end }}
{{- end }}

{{/*
Generated values, computed once per render and cached in .Values so the
Secret and the checksum annotation that hashes it agree. Order of precedence:
the value given in values.yaml, then the value already stored in the
release's Secret (read with lookup, so upgrades keep it), then a new random
one. lookup returns nothing under `helm template` and `--dry-run`.
*/}}
{{- define "wst.generated" -}}
{{- if not (hasKey .Values "wstGeneratedInternal") }}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "wst.fullname" .) | default dict }}
{{- $storedKey := dig "data" "TOKEN_ENCRYPTION_KEY" "" $existing }}
{{- $key := "" }}
{{- if .Values.encryptionKey }}
{{- $key = .Values.encryptionKey }}
{{- else if $storedKey }}
{{- $key = b64dec $storedKey }}
{{- else }}
{{- $key = randBytes 32 }}
{{- end }}
{{- $existingRedis := lookup "v1" "Secret" .Release.Namespace (include "wst.redisName" .) | default dict }}
{{- $storedPassword := dig "data" "redis-password" "" $existingRedis }}
{{- $password := "" }}
{{- if .Values.redis.password }}
{{- $password = .Values.redis.password }}
{{- else if $storedPassword }}
{{- $password = b64dec $storedPassword }}
{{- else }}
{{- $password = randAlphaNum 40 }}
{{- end }}
{{- $_ := set .Values "wstGeneratedInternal" (dict "encryptionKey" $key "redisPassword" $password) }}
{{- end }}
{{- end }}

{{/*
Settings that cannot be checked by the JSON schema alone.
*/}}
{{- define "wst.validate" -}}
{{- if .Values.existingSecret }}
{{- if or .Values.webex.clientId .Values.webex.clientSecret .Values.encryptionKey .Values.deviceClients }}
{{- fail "webex-scoped-tokens: existingSecret is set, so webex.clientId, webex.clientSecret, encryptionKey and deviceClients must be empty; put CLIENT_ID, CLIENT_SECRET, TOKEN_ENCRYPTION_KEY (and DEVICE_CLIENTS) into that Secret instead" }}
{{- end }}
{{- if and (not .Values.redis.enabled) .Values.redis.url }}
{{- fail "webex-scoped-tokens: with existingSecret the chart renders no Secret to hold redis.url; store the URL in a Secret and set redis.existingSecret / redis.existingSecretKey" }}
{{- end }}
{{- else }}
{{- if not .Values.webex.clientId }}
{{- fail "webex-scoped-tokens: webex.clientId is required (the integration's CLIENT_ID from developer.webex.com), or set existingSecret" }}
{{- end }}
{{- if not .Values.webex.clientSecret }}
{{- fail "webex-scoped-tokens: webex.clientSecret is required (the integration's CLIENT_SECRET), or set existingSecret" }}
{{- end }}
{{- end }}
{{- $sources := 0 }}
{{- if .Values.redis.enabled }}{{ $sources = add1 $sources }}{{ end }}
{{- if .Values.redis.url }}{{ $sources = add1 $sources }}{{ end }}
{{- if .Values.redis.existingSecret }}{{ $sources = add1 $sources }}{{ end }}
{{- if .Values.redis.seeds }}{{ $sources = add1 $sources }}{{ end }}
{{- if ne (int $sources) 1 }}
{{- fail "webex-scoped-tokens: choose exactly one Redis: redis.enabled=true (bundled), or redis.enabled=false with redis.url, redis.existingSecret or redis.seeds" }}
{{- end }}
{{- if and .Values.redis.enabled (ne .Values.redis.mode "standalone") }}
{{- fail (printf "webex-scoped-tokens: redis.mode=%s needs an external Redis: set redis.enabled=false and redis.seeds (or redis.url)" .Values.redis.mode) }}
{{- end }}
{{- if and (eq .Values.redis.mode "standalone") (gt (len .Values.redis.seeds) 1) }}
{{- fail "webex-scoped-tokens: several redis.seeds need redis.mode=cluster or redis.mode=sentinel" }}
{{- end }}
{{- if and .Values.ingress.enabled (not .Values.ingress.tls) (not .Values.ingress.allowPlainHttp) }}
{{- fail "webex-scoped-tokens: the Ingress has no TLS, so tokens and sign-ins would cross the network in clear; set ingress.tls (e.g. --set ingress.tls[0].secretName=tokens-tls,ingress.tls[0].hosts[0]=<host>), or ingress.allowPlainHttp=true only if TLS ends at a hop in front" }}
{{- end }}
{{- if and (not (trim .Values.config.allowedOrgIds)) (not .Values.config.allowAnyOrg) }}
{{- fail "webex-scoped-tokens: config.allowedOrgIds is empty, so an admin of any Webex org could approve a code seen in a CI log (the app refuses this in production); list your org IDs, or set config.allowAnyOrg=true on purpose" }}
{{- end }}
{{- if and (eq .Values.config.scopesMode "static") (not .Values.config.scopes) }}
{{- fail "webex-scoped-tokens: config.scopesMode=static needs config.scopes" }}
{{- end }}
{{- $publicUrl := include "wst.publicUrl" . }}
{{- if and (not (hasPrefix "https://" $publicUrl)) (not .Values.config.allowHttpPublicUrl) }}
{{- fail (printf "webex-scoped-tokens: publicUrl %s is not https; the app refuses that in production unless config.allowHttpPublicUrl=true" $publicUrl) }}
{{- end }}
{{- if and (not (kindIs "invalid" .Values.terminationGracePeriodSeconds)) (le (int .Values.terminationGracePeriodSeconds) (add (int .Values.preStopSleepSeconds) (int .Values.config.shutdownGraceSeconds) | int)) }}
{{- fail (printf "webex-scoped-tokens: terminationGracePeriodSeconds must exceed preStopSleepSeconds + config.shutdownGraceSeconds (%d), or the kubelet kills pods mid-drain" (add .Values.preStopSleepSeconds .Values.config.shutdownGraceSeconds | int)) }}
{{- end }}
{{- end }}

{{/*
Pod termination grace period: preStop sleep + app shutdown grace + 5s slack.
*/}}
{{- define "wst.terminationGracePeriodSeconds" -}}
{{- if kindIs "invalid" .Values.terminationGracePeriodSeconds }}
{{- add (int .Values.preStopSleepSeconds) (int .Values.config.shutdownGraceSeconds) 5 }}
{{- else }}
{{- int .Values.terminationGracePeriodSeconds }}
{{- end }}
{{- end }}

{{/*
Effective number of pods that must stay available for a PDB to make sense.
*/}}
{{- define "wst.minPods" -}}
{{- if .Values.autoscaling.enabled }}
{{- int .Values.autoscaling.minReplicas }}
{{- else }}
{{- int .Values.replicaCount }}
{{- end }}
{{- end }}

{{/*
REDIS_URL built from redis.seeds (no credentials: the password comes from redis.passwordSecret).
*/}}
{{- define "wst.redisSeedsUrl" -}}
{{- $scheme := ternary "rediss" "redis" .Values.redis.tls }}
{{- $urls := list }}
{{- range .Values.redis.seeds }}{{ $urls = append $urls (printf "%s://%s" $scheme .) }}{{ end }}
{{- join "," $urls }}
{{- end }}
