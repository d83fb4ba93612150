{{/* Chart name, overridable with nameOverride. */}}
{{- define "taskstream.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name, at most 63 characters (DNS label limit). A release
already named after the chart is not repeated ("taskstream", not
"taskstream-taskstream").
*/}}
{{- define "taskstream.fullname" -}}
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

{{/* Chart name and version, for the helm.sh/chart label. */}}
{{- define "taskstream.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "taskstream.labels" -}}
helm.sh/chart: {{ include "taskstream.chart" . }}
{{ include "taskstream.selectorLabels" . }}
app.kubernetes.io/version: {{ include "taskstream.imageTag" . | quote }}
app.kubernetes.io/part-of: taskstream
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Labels that select this release's pods (immutable: never add to them). */}}
{{- define "taskstream.selectorLabels" -}}
app.kubernetes.io/name: {{ include "taskstream.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "taskstream.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "taskstream.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret holding DATABASE_URL, JWT_SECRET, KAFKA_SASL_PASSWORD and SMTP_URL. */}}
{{- define "taskstream.secretName" -}}
{{- default (printf "%s-secrets" (include "taskstream.fullname" .)) .Values.secrets.existingSecret }}
{{- end }}

{{- define "taskstream.imageTag" -}}
{{- default .Chart.AppVersion .Values.image.tag }}
{{- end }}

{{- define "taskstream.image" -}}
{{- printf "%s:%s" .Values.image.repository (include "taskstream.imageTag" .) }}
{{- end }}

{{/*
The secret half of streams.settings.CONFIG_KEYS (its SECRET_KEYS), as env
entries. KAFKA_SASL_PASSWORD is optional: PLAINTEXT brokers need none;
SMTP_URL too: without it reminders are in-app (and webhooks) only.
*/}}
{{- define "taskstream.secretEnv" -}}
{{- $secret := include "taskstream.secretName" . }}
{{- range $key := list "DATABASE_URL" "JWT_SECRET" "KAFKA_SASL_PASSWORD" "SMTP_URL" }}
- name: {{ $key }}
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $key }}
      {{- if has $key (list "KAFKA_SASL_PASSWORD" "SMTP_URL") }}
      optional: true
      {{- end }}
{{- end }}
{{- end }}

{{/*
The non-secret half of CONFIG_KEYS as env entries, for the pre-install
migration hook: hooks run before the release's ConfigMap exists.
*/}}
{{- define "taskstream.configEnv" -}}
{{- range $key := keys .Values.config | sortAlpha }}
- name: {{ $key }}
  value: {{ get $.Values.config $key | toString | quote }}
{{- end }}
{{- end }}

{{/*
Restrictive pod security context, identical for every pod of the chart.
10001 is the numeric user baked into the Dockerfile.
*/}}
{{- define "taskstream.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "taskstream.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: ["ALL"]
{{- end }}

{{/* Kafka CA certificate volume (when kafkaCa.existingSecret is set). */}}
{{- define "taskstream.kafkaCaVolume" -}}
- name: kafka-ca
  secret:
    secretName: {{ .Values.kafkaCa.existingSecret }}
{{- end }}

{{/* Its mount; KAFKA_SSL_CAFILE names a file inside mountPath. */}}
{{- define "taskstream.kafkaCaMount" -}}
- name: kafka-ca
  mountPath: {{ .Values.kafkaCa.mountPath }}
  readOnly: true
{{- end }}

{{/*
Worker roles (docs/deploy.md, "Roles and scaling"), in the order their objects
are rendered. Each enabled one under .Values.workers is its own Deployment.
*/}}
{{- define "taskstream.workerRoles" -}}
web stream all
{{- end }}

{{/* A worker Deployment's name: <fullname>-web, <fullname>-stream, <fullname> for role all. Takes (list $ role). */}}
{{- define "taskstream.workerName" -}}
{{- $root := index . 0 }}
{{- $role := index . 1 }}
{{- if eq $role "all" }}
{{- include "taskstream.fullname" $root }}
{{- else }}
{{- printf "%s-%s" (include "taskstream.fullname" $root | trunc 56 | trimSuffix "-") $role }}
{{- end }}
{{- end }}

{{/* The app.kubernetes.io/component of a role's pods: web, stream, and worker for role all. */}}
{{- define "taskstream.workerComponent" -}}
{{- if eq . "all" }}worker{{ else }}{{ . }}{{ end }}
{{- end }}

{{/* The component the Service routes to: the web workers, or the all-in-one ones without them. */}}
{{- define "taskstream.apiComponent" -}}
{{- if .Values.workers.web.enabled }}web{{ else }}worker{{ end }}
{{- end }}

{{/* Refuse worker layouts that cannot work. */}}
{{- define "taskstream.checkWorkers" -}}
{{- $w := .Values.workers }}
{{- if not (or $w.web.enabled $w.all.enabled) }}
{{- fail "workers: enable web (or all): otherwise nothing serves the API" }}
{{- end }}
{{- if not (or $w.stream.enabled $w.all.enabled) }}
{{- fail "workers: enable stream (or all): otherwise nothing runs the agents (no live updates, reminders or recurrences)" }}
{{- end }}
{{- end }}
