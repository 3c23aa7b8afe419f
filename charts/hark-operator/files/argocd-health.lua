-- Argo CD health check for hark.dev/v1alpha1 Sensor.
-- Install it under the argocd-cm key `resource.customizations.health.hark.dev_Sensor`.
-- Healthy: Ready=True for the current generation. Progressing: not yet observed, or Reconciling.
-- Degraded: Stalled=True (or Ready=False with nothing in progress). Suspended: spec.rollout.paused.
local hs = { status = "Progressing", message = "Waiting for the operator to observe the Sensor" }

local function condition(conditions, type)
  if conditions == nil then return nil end
  for _, c in ipairs(conditions) do
    if c.type == type then return c end
  end
  return nil
end

local generation = obj.metadata and obj.metadata.generation or nil
local status = obj.status
if status == nil then return hs end

local conditions = status.conditions
local stalled = condition(conditions, "Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = stalled.message or stalled.reason or "Stalled"
  return hs
end

if obj.spec ~= nil and obj.spec.rollout ~= nil and obj.spec.rollout.paused == true then
  hs.status = "Suspended"
  hs.message = "The agent rollout is paused (spec.rollout.paused)"
  return hs
end

local observed = status.observedGeneration
if observed == nil or observed < 0 or (generation ~= nil and observed < generation) then
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

local reconciling = condition(conditions, "Reconciling")
if reconciling ~= nil and reconciling.status == "True" then
  hs.message = reconciling.message or reconciling.reason or "Reconciling"
  return hs
end

local ready = condition(conditions, "Ready")
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message or "Ready"
  return hs
end
if ready ~= nil and ready.status == "False" then
  hs.status = "Degraded"
  hs.message = ready.message or ready.reason or "Not ready"
  return hs
end
hs.message = "Waiting for the Ready condition"
return hs
