{{/* Names are release-scoped so two releases never collide; 63 is the DNS label limit. */}}
{{- define "everynode.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "everynode.fullname" -}}
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

{{/* Component names leave room for the suffix under the 63-character limit. */}}
{{- define "everynode.webhookName" -}}
{{- printf "%s-webhook" (include "everynode.fullname" . | trunc 55 | trimSuffix "-") }}
{{- end }}

{{- define "everynode.controllerName" -}}
{{- printf "%s-controller" (include "everynode.fullname" . | trunc 52 | trimSuffix "-") }}
{{- end }}

{{/* The Secret holding the webhook's serving certificate (cert-manager or self-managed). */}}
{{- define "everynode.tlsSecretName" -}}
{{- printf "%s-tls" (include "everynode.webhookName" .) }}
{{- end }}

{{/* Cluster-scoped, so the release namespace is part of the name. */}}
{{- define "everynode.webhookConfigurationName" -}}
{{- printf "%s-%s" .Release.Namespace (include "everynode.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "everynode.clusterRoleName" -}}
{{- printf "%s-%s" .Release.Namespace (include "everynode.controllerName" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "everynode.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "everynode.labels" -}}
helm.sh/chart: {{ include "everynode.chart" . }}
app.kubernetes.io/name: {{ include "everynode.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: everynode
{{- end }}

{{/* Selector labels must never change across upgrades (Deployment selectors are immutable). */}}
{{- define "everynode.selectorLabels" -}}
app.kubernetes.io/name: {{ include "everynode.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "everynode.componentLabels" -}}
{{ include "everynode.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "everynode.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* True ("true") when the API server calls a URL instead of the Service: development mode. */}}
{{- define "everynode.devMode" -}}
{{- if .Values.webhook.url }}true{{ end }}
{{- end }}

{{- define "everynode.selfManagedTLS" -}}
{{- if and (not .Values.webhook.url) (eq .Values.tls.mode "self-managed") }}true{{ end }}
{{- end }}

{{- define "everynode.certManagerTLS" -}}
{{- if and (not .Values.webhook.url) (eq .Values.tls.mode "cert-manager") }}true{{ end }}
{{- end }}

{{/*
Spread constraints for a component's pods. Default: one pod per node where possible, but never
unschedulable on a small cluster (ScheduleAnyway); pod-template-hash keeps a rollout's old and new
pods from counting against each other. A constraint without a labelSelector would match no pod,
so it gets this component's selector.
*/}}
{{- define "everynode.topologySpread" -}}
{{- $default := dict "maxSkew" 1 "topologyKey" "kubernetes.io/hostname" "whenUnsatisfiable" "ScheduleAnyway" "matchLabelKeys" (list "pod-template-hash") }}
{{- $own := dict "labelSelector" (dict "matchLabels" (include "everynode.selectorLabels" . | fromYaml)) }}
{{- $constraints := list }}
{{- range (.constraints | default (list $default)) }}
{{- $constraints = append $constraints (merge (deepCopy .) $own) }}
{{- end }}
{{- toYaml $constraints }}
{{- end }}

{{/* The one --network-unavailable value both processes get (webhook.networkUnavailable is its deprecated override). */}}
{{- define "everynode.networkUnavailable" -}}
{{- .Values.webhook.networkUnavailable | default .Values.networkUnavailable -}}
{{- end }}
