package kapi

import "encoding/json"

// The OpenAPI v3 schema names, as Kubernetes and Tilt name them.
const (
	schemaPrefix     = "com.github.tilt-dev.tilt.pkg.apis.core.v1alpha1."
	metaPrefix       = "io.k8s.apimachinery.pkg.apis.meta.v1."
	schemaObject     = schemaPrefix + "PodLogStream"
	schemaList       = schemaPrefix + "PodLogStreamList"
	schemaSpec       = schemaPrefix + "PodLogStreamSpec"
	schemaStatus     = schemaPrefix + "PodLogStreamStatus"
	schemaContainer  = schemaPrefix + "ContainerLogStreamStatus"
	schemaObjectMeta = metaPrefix + "ObjectMeta"
	schemaListMeta   = metaPrefix + "ListMeta"
	schemaTime       = metaPrefix + "Time"
	schemaStatusObj  = metaPrefix + "Status"
	schemaDeleteOpts = metaPrefix + "DeleteOptions"
	schemaPatch      = metaPrefix + "Patch"
	schemaWatchEvent = metaPrefix + "WatchEvent"
	schemaManaged    = metaPrefix + "ManagedFieldsEntry"
)

// openAPIDocument is the OpenAPI v3 document of the group version, served at
// /openapi/v3/apis/tilt.dev/v1alpha1: kubectl reads it for explain, for
// field validation support and for apply's patch type.
var openAPIDocument = buildOpenAPI()

type obj = map[string]any

func ref(name string) obj { return obj{"$ref": "#/components/schemas/" + name} }

// refField is a property referring to another schema, with a description.
func refField(name, desc string) obj {
	return obj{"allOf": []any{ref(name)}, "description": desc, "default": obj{}}
}

func str(desc string) obj { return obj{"type": "string", "description": desc, "default": ""} }

func boolean(desc string) obj { return obj{"type": "boolean", "description": desc, "default": false} }

func strList(desc string) obj {
	return obj{"type": "array", "description": desc, "items": obj{"type": "string", "default": ""}}
}

func strMap(desc string) obj {
	return obj{"type": "object", "description": desc, "additionalProperties": obj{"type": "string", "default": ""}}
}

func gvk(kind string) []any {
	return []any{obj{"group": Group, "version": Version, "kind": kind}}
}

func buildOpenAPI() []byte {
	schemas := obj{
		schemaObject: obj{
			"description": "PodLogStream\n\nStreams logs from a pod on Kubernetes into kubelog's store.",
			"type":        "object",
			"properties": obj{
				"apiVersion": str("APIVersion defines the versioned schema of this representation of an object: tilt.dev/v1alpha1."),
				"kind":       str("Kind is a string value representing the REST resource this object represents: PodLogStream."),
				"metadata":   refField(schemaObjectMeta, "Standard object's metadata."),
				"spec":       refField(schemaSpec, "The pod whose logs are streamed, and which of its containers."),
				"status":     refField(schemaStatus, "The state of each container's log stream, set by the server."),
			},
			"x-kubernetes-group-version-kind": gvk(Kind),
		},
		schemaList: obj{
			"description": "PodLogStreamList",
			"type":        "object",
			"required":    []string{"items"},
			"properties": obj{
				"apiVersion": str("APIVersion defines the versioned schema of this representation of an object."),
				"kind":       str("Kind is a string value representing the REST resource this object represents."),
				"metadata":   refField(schemaListMeta, "Standard list metadata."),
				"items":      obj{"type": "array", "description": "The PodLogStreams.", "items": obj{"allOf": []any{ref(schemaObject)}, "default": obj{}}},
			},
			"x-kubernetes-group-version-kind": gvk(ListKind),
		},
		schemaSpec: obj{
			"description": "PodLogStreamSpec defines the desired state of PodLogStream.\n\nTranslated into a PodLog query to the cluster: https://pkg.go.dev/k8s.io/api/core/v1#PodLogOptions",
			"type":        "object",
			"required":    []string{"pod"},
			"properties": obj{
				"pod":              str("The name of the pod to watch. Required."),
				"namespace":        str("The namespace of the pod to watch. Defaults to \"default\"."),
				"sinceTime":        refField(schemaTime, "An RFC3339 timestamp from which to show logs. If this value precedes the time a pod was started, only logs since the pod start will be returned. If this value is in the future, no logs will be returned.\n\nTranslates directly to the underlying PodLogOptions."),
				"onlyContainers":   strList("The names of containers to include in the stream.\n\nIf `onlyContainers` and `ignoreContainers` are not set, will watch all containers in the pod."),
				"ignoreContainers": strList("The names of containers to exclude from the stream.\n\nIf `onlyContainers` and `ignoreContainers` are not set, will watch all containers in the pod."),
				"cluster":          str("The name of a cluster registered in kubelog for the tenant. Defaults to the tenant's cluster named \"default\", or else its first cluster."),
			},
		},
		schemaStatus: obj{
			"description": "PodLogStreamStatus defines the observed state of PodLogStream",
			"type":        "object",
			"properties": obj{
				"containerStatuses": obj{"type": "array", "description": "A list of containers being watched.",
					"items": obj{"allOf": []any{ref(schemaContainer)}, "default": obj{}}},
			},
		},
		schemaContainer: obj{
			"description": "ContainerLogStreamStatus defines the current status of each individual container log stream.",
			"type":        "object",
			"required":    []string{"name", "active", "terminated"},
			"properties": obj{
				"name":       str("The name of the container."),
				"active":     boolean("True when the stream is set up and streaming logs properly."),
				"error":      str("The last error message encountered while streaming.\n\nEmpty when the stream is actively streaming or successfully terminated."),
				"terminated": boolean("True when the logs are done stream and the container is terminated."),
			},
		},
		schemaObjectMeta: obj{
			"description": "ObjectMeta is metadata that all persisted resources must have.",
			"type":        "object",
			"properties": obj{
				"name":                       str("Name must be unique within the tenant. Cannot be updated."),
				"generateName":               str("An optional prefix, used by the server, to generate a unique name ONLY IF the Name field has not been provided."),
				"uid":                        str("UID is the unique in time and space value for this object, set by the server."),
				"resourceVersion":            str("An opaque value that represents the internal version of this object; used for optimistic concurrency, change detection, and the watch operation."),
				"generation":                 obj{"type": "integer", "format": "int64", "description": "A sequence number representing a specific generation of the desired state."},
				"creationTimestamp":          refField(schemaTime, "The time the object was created, set by the server."),
				"deletionTimestamp":          refField(schemaTime, "The time at which this object will be deleted, set when a graceful deletion is requested."),
				"deletionGracePeriodSeconds": obj{"type": "integer", "format": "int64", "description": "Number of seconds allowed for this object to gracefully terminate before it is removed."},
				"labels":                     strMap("Map of string keys and values that can be used to organize and categorize (scope and select) objects."),
				"annotations":                strMap("Annotations is an unstructured key value map stored with a resource."),
				"managedFields": obj{"type": "array", "description": "Which field managers wrote which fields.",
					"items": obj{"allOf": []any{ref(schemaManaged)}, "default": obj{}}},
			},
		},
		schemaManaged: obj{
			"description": "ManagedFieldsEntry is a workflow-id, a FieldSet and the group version of the resource that the fieldset applies to.",
			"type":        "object",
			"properties": obj{
				"manager":     str("The identifier of the workflow managing these fields."),
				"operation":   str("The type of operation which lead to this entry."),
				"apiVersion":  str("The version of this resource that this field set applies to."),
				"time":        refField(schemaTime, "The timestamp of when the entry was added."),
				"fieldsType":  str("The discriminator for the different fields format and version: FieldsV1."),
				"fieldsV1":    obj{"type": "object", "description": "The fields, in the FieldsV1 format."},
				"subresource": str("The name of the subresource used to update that object, or empty."),
			},
		},
		schemaListMeta: obj{
			"description": "ListMeta describes metadata that synthetic resources must have.",
			"type":        "object",
			"properties": obj{
				"resourceVersion":    str("The resourceVersion of the list."),
				"continue":           str("Set when more items are available: pass it as the continue parameter."),
				"remainingItemCount": obj{"type": "integer", "format": "int64", "description": "The number of items left after this page."},
			},
		},
		schemaTime:       obj{"description": "Time is a wrapper around time.Time which supports correct marshaling to YAML and JSON: RFC3339.", "type": "string", "format": "date-time"},
		schemaStatusObj:  obj{"description": "Status is a return value for calls that don't return other objects.", "type": "object"},
		schemaDeleteOpts: obj{"description": "DeleteOptions may be provided when deleting an API object.", "type": "object"},
		schemaPatch:      obj{"description": "Patch is provided to give a concrete name and type to the Kubernetes PATCH request body.", "type": "object"},
		schemaWatchEvent: obj{"description": "Event represents a single event to a watched resource.", "type": "object",
			"required": []string{"type", "object"},
			"properties": obj{"type": str("ADDED, MODIFIED, DELETED, BOOKMARK or ERROR."),
				"object": obj{"type": "object", "description": "The object, or a Status for ERROR."}}},
	}

	query := func(name, typ, desc string) obj {
		return obj{"name": name, "in": "query", "description": desc, "schema": obj{"type": typ, "uniqueItems": true}}
	}
	pretty := query("pretty", "string", "If 'true', then the output is pretty printed.")
	dryRun := query("dryRun", "string", "When present, indicates that modifications should not be persisted. Valid value: All.")
	fieldManager := query("fieldManager", "string", "A name associated with the actor or entity that is making these changes.")
	fieldValidation := query("fieldValidation", "string", "How to handle unknown or duplicate fields: Ignore, Warn (the default) or Strict.")
	force := query("force", "boolean", "Only for server-side apply, which this resource does not support.")
	nameParam := obj{"name": "name", "in": "path", "required": true, "description": "name of the PodLogStream", "schema": obj{"type": "string", "uniqueItems": true}}
	listParams := []any{
		query("allowWatchBookmarks", "boolean", "allowWatchBookmarks requests watch events with type \"BOOKMARK\"."),
		query("continue", "string", "The continue token of the previous page."),
		query("fieldSelector", "string", "A selector on metadata.name, spec.pod, spec.namespace or spec.cluster."),
		query("labelSelector", "string", "A selector to restrict the list of returned objects by their labels."),
		query("limit", "integer", "The maximum number of items to return."),
		query("resourceVersion", "string", "Constrains the resource versions that a request may be served from."),
		query("resourceVersionMatch", "string", "How resourceVersion applies: Exact or NotOlderThan."),
		query("timeoutSeconds", "integer", "Timeout for the list/watch call."),
		query("watch", "boolean", "Watch for changes to the described resources."),
		query("sendInitialEvents", "boolean", "With watch, start with an ADDED event per object and a bookmark marking their end."),
	}
	deleteParams := []any{dryRun,
		query("gracePeriodSeconds", "integer", "The duration in seconds before the object should be deleted; 0 deletes at once."),
		query("propagationPolicy", "string", "Orphan, Background or Foreground; PodLogStreams have no dependents."),
	}
	jsonBody := func(schema string) obj {
		return obj{"content": obj{"application/json": obj{"schema": ref(schema)}, "application/yaml": obj{"schema": ref(schema)}}, "required": true}
	}
	patchBody := obj{"content": obj{
		"application/json-patch+json":  obj{"schema": ref(schemaPatch)},
		"application/merge-patch+json": obj{"schema": ref(schemaPatch)},
	}, "required": true}
	response := func(codes map[string]string) obj {
		out := obj{"401": obj{"description": "Unauthorized"}}
		for code, schema := range codes {
			out[code] = obj{"description": "OK", "content": obj{"application/json": obj{"schema": ref(schema)}}}
		}
		return out
	}
	op := func(id, action, desc string, params []any, body obj, codes map[string]string) obj {
		o := obj{"operationId": id, "description": desc, "tags": []string{"tiltDev_v1alpha1"},
			"parameters": params, "responses": response(codes),
			"x-kubernetes-action": action, "x-kubernetes-group-version-kind": obj{"group": Group, "version": Version, "kind": Kind}}
		if body != nil {
			o["requestBody"] = body
		}
		return o
	}
	writeParams := []any{dryRun, fieldManager, fieldValidation}
	objectCodes := map[string]string{"200": schemaObject}
	paths := obj{
		ResourcePath: obj{
			"parameters": []any{pretty},
			"get":        op("listTiltDevV1alpha1PodLogStream", "list", "list or watch objects of kind PodLogStream", listParams, nil, map[string]string{"200": schemaList}),
			"post": op("createTiltDevV1alpha1PodLogStream", "post", "create a PodLogStream", writeParams, jsonBody(schemaObject),
				map[string]string{"200": schemaObject, "201": schemaObject, "202": schemaObject}),
			"delete": op("deleteTiltDevV1alpha1CollectionPodLogStream", "deletecollection", "delete collection of PodLogStream",
				append(append([]any{}, listParams[1:8]...), deleteParams...), obj{"content": obj{"application/json": obj{"schema": ref(schemaDeleteOpts)}}}, map[string]string{"200": schemaStatusObj}),
		},
		ResourcePath + "/{name}": obj{
			"parameters": []any{nameParam, pretty},
			"get":        op("readTiltDevV1alpha1PodLogStream", "get", "read the specified PodLogStream", nil, nil, objectCodes),
			"put": op("replaceTiltDevV1alpha1PodLogStream", "put", "replace the specified PodLogStream", writeParams, jsonBody(schemaObject),
				map[string]string{"200": schemaObject, "201": schemaObject}),
			"patch": op("patchTiltDevV1alpha1PodLogStream", "patch", "partially update the specified PodLogStream", append(append([]any{}, writeParams...), force), patchBody, objectCodes),
			"delete": op("deleteTiltDevV1alpha1PodLogStream", "delete", "delete a PodLogStream", deleteParams,
				obj{"content": obj{"application/json": obj{"schema": ref(schemaDeleteOpts)}}}, map[string]string{"200": schemaStatusObj, "202": schemaStatusObj}),
		},
		ResourcePath + "/{name}/status": obj{
			"parameters": []any{nameParam, pretty},
			"get":        op("readTiltDevV1alpha1PodLogStreamStatus", "get", "read status of the specified PodLogStream", nil, nil, objectCodes),
			"put": op("replaceTiltDevV1alpha1PodLogStreamStatus", "put", "replace status of the specified PodLogStream", writeParams, jsonBody(schemaObject),
				map[string]string{"200": schemaObject, "201": schemaObject}),
			"patch": op("patchTiltDevV1alpha1PodLogStreamStatus", "patch", "partially update status of the specified PodLogStream", append(append([]any{}, writeParams...), force), patchBody, objectCodes),
		},
	}
	doc := obj{
		"openapi":    "3.0.0",
		"info":       obj{"title": "kubelog", "version": Version},
		"paths":      paths,
		"components": obj{"schemas": schemas, "securitySchemes": obj{"BearerToken": obj{"type": "apiKey", "name": "authorization", "in": "header", "description": "A kubelog bearer token: 'authorization: Bearer <token>'"}}},
	}
	b, err := json.Marshal(doc)
	if err != nil {
		panic("BUG: OpenAPI document does not marshal: " + err.Error())
	}
	return b
}
