{{/* Chart name, truncated to the 63 characters a DNS label allows. */}}
{{- define "fastapi-example.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-qualified name; the release name alone when it already contains the chart name. */}}
{{- define "fastapi-example.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "fastapi-example.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "fastapi-example.labels" -}}
helm.sh/chart: {{ include "fastapi-example.chart" . }}
{{ include "fastapi-example.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: {{ include "fastapi-example.name" . }}
{{- end }}

{{- define "fastapi-example.selectorLabels" -}}
app.kubernetes.io/name: {{ include "fastapi-example.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Per-component labels: (dict "ctx" $ "component" "api"). */}}
{{- define "fastapi-example.componentLabels" -}}
{{ include "fastapi-example.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "fastapi-example.componentSelectorLabels" -}}
{{ include "fastapi-example.selectorLabels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "fastapi-example.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "fastapi-example.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The API image; the migrate initContainer, the CronJob and the test pod use exactly the same.
image.registry is prepended unless the repository's first part already names a registry host
(has a "." or ":", or is localhost: how container tools read a reference), so overrides that
give a whole repository (make deploy, skaffold, Tilt) keep working.
*/}}
{{- define "fastapi-example.image" -}}
{{- $repository := .Values.image.repository }}
{{- $first := first (splitList "/" $repository) }}
{{- $hasRegistry := and (contains "/" $repository) (or (contains "." $first) (contains ":" $first) (eq "localhost" $first)) }}
{{- if and .Values.image.registry (not $hasRegistry) }}
{{- $repository = printf "%s/%s" (trimSuffix "/" .Values.image.registry) $repository }}
{{- end }}
{{- $repository }}:{{ default .Chart.AppVersion .Values.image.tag | toString }}
{{- with .Values.image.digest }}@{{ . }}{{ end }}
{{- end }}

{{/*
The fullname and a suffix within a length: (list $ "-suffix" 63). The fullname is shortened,
never the suffix, so a long release still gets distinct names. A CronJob's name and a
StatefulSet's take 52: the controllers append 11 characters to make Job names and
controller-revision-hash labels, which must stay within 63.
*/}}
{{- define "fastapi-example.suffixedName" -}}
{{- $ctx := index . 0 }}
{{- $suffix := index . 1 }}
{{- $fullname := include "fastapi-example.fullname" $ctx | trunc (int (sub (index . 2) (len $suffix))) | trimSuffix "-" }}
{{- printf "%s%s" $fullname $suffix }}
{{- end }}

{{/* The MySQL StatefulSet and its Services; the headless one adds "-headless" within 63. */}}
{{- define "fastapi-example.mysql.fullname" -}}
{{- include "fastapi-example.suffixedName" (list . "-mysql" 52) }}
{{- end }}

{{/* The app's Secret: admin-password, password-pepper. */}}
{{- define "fastapi-example.secretName" -}}
{{- default (include "fastapi-example.fullname" .) .Values.auth.existingSecret }}
{{- end }}

{{/* The Secret holding the database password (key from fastapi-example.db.passwordKey). */}}
{{- define "fastapi-example.db.secretName" -}}
{{- if .Values.mysql.enabled }}
{{- default (include "fastapi-example.mysql.fullname" .) .Values.mysql.auth.existingSecret }}
{{- else }}
{{- .Values.externalDatabase.existingSecret }}
{{- end }}
{{- end }}

{{- define "fastapi-example.db.passwordKey" -}}
{{- if .Values.mysql.enabled }}mysql-password{{ else }}{{ .Values.externalDatabase.existingSecretPasswordKey }}{{ end }}
{{- end }}

{{- define "fastapi-example.db.host" -}}
{{- if .Values.mysql.enabled }}{{ include "fastapi-example.mysql.fullname" . }}{{ else }}{{ .Values.externalDatabase.host }}{{ end }}
{{- end }}

{{- define "fastapi-example.db.port" -}}
{{- if .Values.mysql.enabled }}3306{{ else }}{{ .Values.externalDatabase.port }}{{ end }}
{{- end }}

{{- define "fastapi-example.db.name" -}}
{{- if .Values.mysql.enabled }}{{ .Values.mysql.auth.database }}{{ else }}{{ .Values.externalDatabase.database }}{{ end }}
{{- end }}

{{- define "fastapi-example.db.user" -}}
{{- if .Values.mysql.enabled }}{{ .Values.mysql.auth.username }}{{ else }}{{ .Values.externalDatabase.username }}{{ end }}
{{- end }}

{{/*
A generated secret value that survives upgrades: the live Secret's value when there is one
(lookup), otherwise a new random one. (dict "ctx" $ "secret" name "key" key "length" n)
*/}}
{{- define "fastapi-example.secretValue" -}}
{{- $live := lookup "v1" "Secret" .ctx.Release.Namespace .secret }}
{{- if and $live $live.data (hasKey $live.data .key) }}
{{- index $live.data .key }}
{{- else }}
{{- randAlphaNum (int .length) | b64enc }}
{{- end }}
{{- end }}

{{/*
Env of serve, migrate and the CronJob: the settings ConfigMap and secrets by reference.
(dict "ctx" $ "admin" true): with ADMIN_PASSWORD, which only migrate reads (the first admin).
*/}}
{{- define "fastapi-example.env" -}}
{{- $admin := .admin }}
{{- with .ctx }}
envFrom:
  - configMapRef:
      name: {{ include "fastapi-example.fullname" . }}
env:
  - name: DB_PASSWORD
    valueFrom:
      secretKeyRef:
        name: {{ include "fastapi-example.db.secretName" . }}
        key: {{ include "fastapi-example.db.passwordKey" . }}
  {{- if $admin }}
  - name: ADMIN_PASSWORD
    valueFrom:
      secretKeyRef:
        name: {{ include "fastapi-example.secretName" . }}
        key: admin-password
  {{- end }}
  - name: PASSWORD_PEPPER
    valueFrom:
      secretKeyRef:
        name: {{ include "fastapi-example.secretName" . }}
        key: password-pepper
{{- end }}
{{- end }}

{{/* Pod-level security context for the app's pods (restricted Pod Security Standard). */}}
{{- define "fastapi-example.podSecurityContext" -}}
{{- toYaml .Values.podSecurityContext }}
{{- end }}

{{/* Egress of the app's pods: DNS and the database. */}}
{{- define "fastapi-example.networkPolicy.egress" -}}
{{- $dns := .Values.networkPolicy.dns }}
{{- if not $dns.anyAddress }}
- to:
    - namespaceSelector:
        {{- toYaml $dns.namespaceSelector | nindent 8 }}
      podSelector:
        {{- toYaml $dns.podSelector | nindent 8 }}
  ports:
{{- else }}
- ports:
{{- end }}
    - port: 53
      protocol: UDP
    - port: 53
      protocol: TCP
{{- if .Values.mysql.enabled }}
- to:
    - podSelector:
        matchLabels:
          {{- include "fastapi-example.componentSelectorLabels" (dict "ctx" . "component" "mysql") | nindent 10 }}
  ports:
    - port: 3306
{{- else }}
# An external database may be anywhere; only its port is known.
- ports:
    - port: {{ .Values.externalDatabase.port }}
{{- end }}
{{- end }}

{{/* Combinations values.schema.json cannot express; called from configmap.yaml. */}}
{{- define "fastapi-example.validate" -}}
{{- if and .Values.autoscaling.enabled (gt (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) }}
{{- fail "autoscaling.minReplicas must not exceed autoscaling.maxReplicas" }}
{{- end }}
{{- $seen := dict }}
{{- range .Values.versions }}
{{- if hasKey $seen .version }}
{{- fail (printf "versions: %q is listed twice" .version) }}
{{- end }}
{{- $_ := set $seen .version true }}
{{- end }}
{{- if ge (add .Values.config.gracefulShutdownSeconds .Values.preStopSeconds) (int .Values.terminationGracePeriodSeconds) }}
{{- fail "config.gracefulShutdownSeconds + preStopSeconds must stay below terminationGracePeriodSeconds" }}
{{- end }}
{{- with .Values.metrics.serviceMonitor }}
{{- if gt (include "fastapi-example.seconds" .scrapeTimeout | float64) (include "fastapi-example.seconds" .interval | float64) }}
{{- fail "metrics.serviceMonitor.scrapeTimeout must not exceed its interval (prometheus-operator rejects the monitor)" }}
{{- end }}
{{- end }}
{{- end }}

{{/* A Prometheus duration the schema allows (1m30s, 500ms) in seconds. */}}
{{- define "fastapi-example.seconds" -}}
{{- $seconds := 0.0 }}
{{- $units := dict "ms" 0.001 "s" 1.0 "m" 60.0 "h" 3600.0 }}
{{- range regexFindAll "[0-9]+(ms|s|m|h)" . -1 }}
{{- $seconds = addf $seconds (mulf (regexFind "^[0-9]+" .) (get $units (regexFind "(ms|s|m|h)$" .))) }}
{{- end }}
{{- $seconds }}
{{- end }}
