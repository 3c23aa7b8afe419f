{{/*
The aggregator pod template, indented for a workload's spec.template: the
Deployment's (one replica) and the StatefulSet's of shards (replicas > 1,
whose pods get their data volume from its claim template).
*/}}
{{- define "hark-aggregator.podTemplate" -}}
{{- $full := include "hark-aggregator.fullname" . }}
{{- $brokerUrl := include "hark-aggregator.brokerUrl" . }}
{{- $sharded := gt (int .Values.replicas) 1 }}
    metadata:
      labels:
        {{- include "hark-aggregator.labels" . | nindent 8 }}
        app.kubernetes.io/component: aggregator
        {{- with .Values.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- with .Values.podAnnotations }}
      annotations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    spec:
      serviceAccountName: {{ include "hark-aggregator.fullname" . }}
      # Only to review callers' tokens with the API server (api.auth kubernetes).
      automountServiceAccountToken: {{ eq .Values.api.auth "kubernetes" }}
      {{- with .Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.priorityClassName }}
      priorityClassName: {{ . }}
      {{- end }}
      securityContext:
        runAsNonRoot: true
        runAsUser: 65532
        runAsGroup: 65532
        fsGroup: 65532
        seccompProfile:
          type: RuntimeDefault
      terminationGracePeriodSeconds: 30
      containers:
        - name: aggregator
          image: {{ include "hark-aggregator.image" (dict "root" . "image" .Values.image) }}
          imagePullPolicy: {{ .Values.image.pullPolicy }}
          args: [serve]
          env:
            - { name: HARK_HTTP_PORT, value: "8080" }
            - { name: HARK_HTTP_HOST, value: "0.0.0.0" }
            {{- if $brokerUrl }}
            - { name: HARK_BROKER_URL, value: {{ $brokerUrl | quote }} }
            {{- else }}
            - { name: HARK_BROKER_PORT, value: "8883" }
            - { name: HARK_BROKER_HOST, value: "0.0.0.0" }
            - { name: HARK_SERVER_CERT_FILE, value: /etc/hark/server/tls.crt }
            - { name: HARK_SERVER_KEY_FILE, value: /etc/hark/server/tls.key }
            {{- if .Values.tls.crl.enabled }}
            - { name: HARK_CRL_FILE, value: /etc/hark/crl/ca.crl }
            {{- end }}
            {{- end }}
            - { name: HARK_TOPIC_PREFIX, value: {{ .Values.topicPrefix | quote }} }
            - { name: HARK_CA_FILE, value: /etc/hark/ca/ca.crt }
            - { name: HARK_CLIENT_CERT_FILE, value: /etc/hark/client/tls.crt }
            - { name: HARK_CLIENT_KEY_FILE, value: /etc/hark/client/tls.key }
            - { name: HARK_STALE_AFTER_SECONDS, value: {{ .Values.staleAfterSeconds | quote }} }
            - { name: HARK_ALERT_LEARNING_SECONDS, value: {{ .Values.alertLearningSeconds | quote }} }
            - { name: HARK_CERTIFICATE_WARNING_SECONDS, value: {{ .Values.certificateWarningSeconds | quote }} }
            {{- with .Values.alertWebhook.url }}
            - { name: HARK_ALERT_WEBHOOK_URL, value: {{ . | quote }} }
            {{- if $.Values.alertWebhook.tokenSecret.name }}
            - { name: HARK_ALERT_WEBHOOK_TOKEN_FILE, value: /etc/hark/alert-webhook/token }
            {{- end }}
            {{- end }}
            - { name: HARK_API_AUTH, value: {{ .Values.api.auth | quote }} }
            - name: HARK_NAMESPACE
              valueFrom: { fieldRef: { fieldPath: metadata.namespace } }
            - { name: HARK_DATA_DIR, value: /var/lib/hark }
            - { name: HARK_COMPACT_INTERVAL_SECONDS, value: {{ .Values.compactIntervalSeconds | quote }} }
            - { name: HARK_HISTORY_BACKLOG_MIB, value: {{ .Values.historyBacklogMiB | quote }} }
            - { name: HARK_HISTORY_RETENTION_DAYS, value: {{ .Values.historyRetentionDays | quote }} }
            - { name: HARK_INVENTORY_SNAPSHOT_SECONDS, value: {{ .Values.inventorySnapshotIntervalSeconds | quote }} }
            - { name: HARK_LOG_LEVEL, value: {{ .Values.logLevel | quote }} }
            {{- if $sharded }}
            # One shard per pod: its ordinal is its shard, its name its MQTT session (both kept across reschedules).
            - { name: HARK_SHARDS, value: {{ .Values.replicas | quote }} }
            - name: HARK_SHARD_INDEX
              valueFrom: { fieldRef: { fieldPath: "metadata.labels['apps.kubernetes.io/pod-index']" } }
            - name: HARK_CLIENT_ID
              valueFrom: { fieldRef: { fieldPath: metadata.name } }
            - { name: HARK_PEERS, value: {{ include "hark-aggregator.peers" . | quote }} }
            {{- end }}
          ports:
            - { name: http, containerPort: 8080, protocol: TCP }
            {{- if not $brokerUrl }}
            - { name: mqtts, containerPort: 8883, protocol: TCP }
            {{- end }}
          livenessProbe:
            httpGet: { path: /healthz, port: http }
            periodSeconds: 10
          readinessProbe:
            httpGet: { path: /readyz, port: http }
            periodSeconds: 5
          startupProbe:
            # Replaying a long write-ahead log after a crash can take a while.
            httpGet: { path: /healthz, port: http }
            periodSeconds: 5
            failureThreshold: 60
          securityContext:
            {{- include "hark-aggregator.restrictedContainer" . | nindent 12 }}
          {{- with .Values.resources }}
          resources:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          volumeMounts:
            - { name: data, mountPath: /var/lib/hark }
            - { name: tmp, mountPath: /tmp }
            - { name: ca, mountPath: /etc/hark/ca, readOnly: true }
            - { name: client, mountPath: /etc/hark/client, readOnly: true }
            {{- if and .Values.alertWebhook.url .Values.alertWebhook.tokenSecret.name }}
            - { name: alert-webhook, mountPath: /etc/hark/alert-webhook, readOnly: true }
            {{- end }}
            {{- if not $brokerUrl }}
            - { name: server, mountPath: /etc/hark/server, readOnly: true }
            {{- if .Values.tls.crl.enabled }}
            - { name: crl, mountPath: /etc/hark/crl, readOnly: true }
            {{- end }}
            {{- end }}
      volumes:
        {{- if not (and $sharded .Values.persistence.enabled) }}
        - name: data
          {{- if .Values.persistence.enabled }}
          persistentVolumeClaim:
            claimName: {{ default (printf "%s-data" $full) .Values.persistence.existingClaim }}
          {{- else }}
          emptyDir: {}
          {{- end }}
        {{- end }}
        - name: tmp
          emptyDir: { sizeLimit: 64Mi }
        - name: ca
          secret:
            secretName: {{ required "tls.ca.name is required" .Values.tls.ca.name }}
            items: [{ key: {{ .Values.tls.ca.key }}, path: ca.crt }]
        - name: client
          secret: { secretName: {{ include "hark-aggregator.clientSecret" . }} }
        {{- if and .Values.alertWebhook.url .Values.alertWebhook.tokenSecret.name }}
        - name: alert-webhook
          secret:
            secretName: {{ .Values.alertWebhook.tokenSecret.name }}
            items: [{ key: {{ .Values.alertWebhook.tokenSecret.key }}, path: token }]
        {{- end }}
        {{- if not $brokerUrl }}
        - name: server
          secret: { secretName: {{ include "hark-aggregator.serverSecret" . }} }
        {{- if .Values.tls.crl.enabled }}
        - name: crl
          secret:
            secretName: {{ default .Values.tls.ca.name .Values.tls.crl.name }}
            items: [{ key: {{ .Values.tls.crl.key }}, path: ca.crl }]
        {{- end }}
        {{- end }}
      {{- with .Values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end }}
