{{- define "hark-aggregator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "hark-aggregator.fullname" -}}
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

{{- define "hark-aggregator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hark-aggregator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "hark-aggregator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "hark-aggregator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: hark
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "hark-aggregator.image" -}}
{{- $tag := default .root.Chart.AppVersion .image.tag }}
{{- if .image.digest }}{{ .image.repository }}@{{ .image.digest }}{{ else }}{{ .image.repository }}:{{ $tag }}{{ end }}
{{- end }}

{{- define "hark-aggregator.serverSecret" -}}
{{- if .Values.tls.certManager.enabled }}{{ include "hark-aggregator.fullname" . }}-server-tls{{ else }}{{ required "tls.server.name is required" .Values.tls.server.name }}{{ end }}
{{- end }}

{{- define "hark-aggregator.clientSecret" -}}
{{- if .Values.tls.certManager.enabled }}{{ include "hark-aggregator.fullname" . }}-client-tls{{ else }}{{ required "tls.client.name is required" .Values.tls.client.name }}{{ end }}
{{- end }}

{{- define "hark-aggregator.brokerUrl" -}}
{{- if eq .Values.broker.mode "external" }}{{ required "broker.external.url is required when broker.mode is external" .Values.broker.external.url }}
{{- else if eq .Values.broker.mode "mosquitto" }}mqtts://{{ include "hark-aggregator.fullname" . }}-mosquitto:{{ .Values.service.mqttsPort }}
{{- end }}
{{- end }}

{{- define "hark-aggregator.restrictedContainer" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Every shard's HTTP URL in shard order, through the headless Service (HARK_PEERS). */}}
{{- define "hark-aggregator.peers" -}}
{{- $full := include "hark-aggregator.fullname" . }}
{{- $urls := list }}
{{- range $i := until (int .Values.replicas) }}
{{- $urls = append $urls (printf "http://%s-%d.%s-headless.%s.svc:8080" $full $i $full $.Release.Namespace) }}
{{- end }}
{{- join "," $urls }}
{{- end }}
