/* The enterprise's own 安全风险四色分布图 on its page: the plant layout image
 * placed over the map by three draggable corners (leaflet-imageoverlay-rotated),
 * risk zones drawn and edited with leaflet-geoman, everything saved through
 * the API with optimistic locking (version / If-Match).  Reads its settings
 * from <script type="application/json" id="plant-map-data">.  Read-only
 * accounts get the map without any tool. */
(function () {
  "use strict";

  var D, map, zonesLayer, overlay = null, corners = [], layout = null, selected = null, pending = null;
  var repaired = null;

  function $(id) { return document.getElementById(id); }

  function status(text, isError) {
    var el = $("plant-status");
    el.textContent = text || "";
    el.className = "plant-status" + (isError ? " error" : "") + (text ? " show" : "");
  }

  function colour(grade) { return (grade && D.palette[grade]) || "#9E9E9E"; }

  function gradeLabel(grade) {
    var g = grade && D.grades[grade];
    return g ? g.colour_name + "·" + g.name : "未评级";
  }

  function api(method, url, body, headers) {
    var opts = { method: method, credentials: "same-origin",
                 headers: Object.assign({ Accept: "application/json", "X-CSRFToken": D.csrf }, headers || {}) };
    if (body instanceof FormData) {
      opts.body = body;
    } else if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    return fetch(url, opts).then(function (r) {
      if (r.status === 204) { return { status: 204, body: null }; }
      return r.json().catch(function () { return {}; }).then(function (b) { return { status: r.status, body: b }; });
    });
  }

  function errorText(res) {
    var b = res.body || {};
    var details = (b.errors || []).map(function (e) { return e.column + "：" + e.reason; }).join("；");
    return (b.message || ("请求失败（" + res.status + "）")) + (details && (b.message || "").indexOf(details) < 0 ? "（" + details + "）" : "");
  }

  // --- the layout image -----------------------------------------------------

  function latlng(c) { return L.latLng(c[1], c[0]); }

  function showLayout(meta, fit) {
    layout = meta;
    if (overlay) { map.removeLayer(overlay); overlay = null; }
    corners.forEach(function (m) { map.removeLayer(m); });
    corners = [];
    if (!meta) { return; }
    var tl = latlng(meta.corners[0]), tr = latlng(meta.corners[1]), bl = latlng(meta.corners[3]);
    overlay = L.imageOverlay.rotated(meta.href, tl, tr, bl, { opacity: 0.85, interactive: false });
    overlay.addTo(map);
    overlay.getElement && overlay.getElement() && overlay.getElement().classList.add("plant-layout-image");
    if (D.may_draw) {
      [["左上角", tl], ["右上角", tr], ["左下角", bl]].forEach(function (pair, i) {
        var m = L.marker(pair[1], {
          draggable: true, title: "拖动" + pair[0] + "以放置平面图", keyboard: true, pmIgnore: true,
          icon: L.divIcon({ className: "plant-corner plant-corner-" + i, iconSize: [18, 18] }),
        }).addTo(map);
        m.on("drag", function () {
          overlay.reposition(corners[0].getLatLng(), corners[1].getLatLng(), corners[2].getLatLng());
        });
        m.on("dragend", function () {
          $("plant-layout-save").disabled = false;
          status("平面图位置已改变，请点击“保存平面图位置”");
        });
        corners.push(m);
      });
    }
    if (fit) { map.fitBounds(L.latLngBounds(meta.corners.map(latlng)), { maxZoom: 18 }); }
  }

  function uploadLayout(file) {
    var form = new FormData();
    form.append("file", file);
    if (layout) { form.append("version", String(layout.version)); }
    status("正在上传平面图…");
    api("POST", D.urls.layout, form).then(function (res) {
      if (res.status === 200 || res.status === 201) {
        showLayout(res.body, true);
        status("平面图已上传，拖动角点使其与实际位置重合后保存");
      } else {
        status("平面图上传失败：" + errorText(res), true);
      }
      $("plant-layout-file").value = "";
    });
  }

  function saveLayout() {
    var c = corners.map(function (m) { var p = m.getLatLng(); return [p.lng, p.lat]; });
    api("PATCH", D.urls.layout, { corners: c, version: layout.version }).then(function (res) {
      if (res.status === 200) {
        showLayout(res.body, false);
        $("plant-layout-save").disabled = true;
        status("平面图位置已保存");
      } else {
        status("平面图位置保存失败：" + errorText(res), true);
      }
    });
  }

  // --- zones ----------------------------------------------------------------

  function zoneStyle(f) {
    var c = colour(f.properties.grade);
    return { color: "#333333", weight: 1.5, fillColor: c, fillOpacity: 0.55 };
  }

  function renderList(features) {
    var box = $("plant-zone-list");
    box.replaceChildren();
    if (!features.length) {
      var p = document.createElement("p");
      p.className = "muted";
      p.textContent = "尚未绘制风险区域。";
      box.appendChild(p);
      return;
    }
    var ul = document.createElement("ul");
    features.forEach(function (f) {
      var li = document.createElement("li");
      var sw = document.createElement("span");
      sw.className = "plant-swatch";
      sw.style.background = colour(f.properties.grade);
      li.appendChild(sw);
      li.appendChild(document.createTextNode(f.properties.name + "（" + gradeLabel(f.properties.grade) + "）" +
        (f.properties.risk_points.length ? "：" + f.properties.risk_points.map(function (p) { return p.name; }).join("、") : "")));
      li.dataset.zoneId = f.id;
      ul.appendChild(li);
    });
    box.appendChild(ul);
  }

  function loadZones(withLayout) {
    return api("GET", D.urls.zones).then(function (res) {
      if (res.status !== 200) { status("风险区域加载失败：" + errorText(res), true); return; }
      if (withLayout) { showLayout(res.body.layout, true); }
      D.points = res.body.risk_points || [];
      zonesLayer.clearLayers();
      zonesLayer.addData(res.body);
      renderList(res.body.features);
    });
  }

  function onEachZone(f, layer) {
    layer.feature = f;
    layer.bindTooltip(f.properties.name + "（" + gradeLabel(f.properties.grade) + "）",
                      { permanent: true, direction: "center", className: "plant-zone-label" });
    if (D.may_draw) {
      layer.on("click", function () { select(layer); });
    }
  }

  function pointChecks(zoneId) {
    var box = $("plant-zone-points");
    box.replaceChildren();
    D.points.forEach(function (p) {
      var label = document.createElement("label");
      label.className = "plant-point";
      var input = document.createElement("input");
      input.type = "checkbox";
      input.value = p.id;
      input.checked = zoneId !== null && p.zone_id === zoneId;
      label.appendChild(input);
      label.appendChild(document.createTextNode(" " + p.name + "（" + gradeLabel(p.grade) + "）" +
        (p.zone_id && p.zone_id !== zoneId ? " · 已在其他区域" : "")));
      box.appendChild(label);
    });
    if (!D.points.length) { box.textContent = "该企业尚未登记风险点"; }
  }

  function openForm(layer, props) {
    var form = $("plant-zone-form");
    form.hidden = false;
    $("plant-zone-title").textContent = props ? "修改风险区域：" + props.name : "新风险区域";
    $("plant-zone-name").value = props ? props.name : "";
    $("plant-zone-floor").value = props && props.floor ? props.floor : "";
    $("plant-zone-grade").value = props && props.grade_override ? String(props.grade_override) : "";
    $("plant-zone-inherent").value = props && props.grade_inherent ? String(props.grade_inherent) : "";
    $("plant-zone-residual").value = props && props.grade_residual ? String(props.grade_residual) : "";
    $("plant-zone-emergency").value = props && props.emergency_measures ? props.emergency_measures : "";
    $("plant-zone-person").value = props && props.responsible_person ? props.responsible_person : "";
    $("plant-zone-delete").hidden = !props;
    $("plant-zone-confirm").hidden = true;
    repaired = null;
    pointChecks(props ? props.id : null);
    $("plant-zone-name").focus();
  }

  function clearSelection() {
    if (selected) { selected.pm.disable(); selected = null; }
    if (pending) { map.removeLayer(pending); pending = null; }
    $("plant-zone-form").hidden = true;
  }

  function select(layer) {
    if (pending) { map.removeLayer(pending); pending = null; }
    if (selected && selected !== layer) { selected.pm.disable(); }
    selected = layer;
    layer.pm.enable({ allowSelfIntersection: true });
    openForm(layer, layer.feature.properties);
  }

  function formBody() {
    var body = {
      name: $("plant-zone-name").value, floor: $("plant-zone-floor").value,
      grade: $("plant-zone-grade").value || null, grade_inherent: $("plant-zone-inherent").value || null,
      grade_residual: $("plant-zone-residual").value || null,
      emergency_measures: $("plant-zone-emergency").value, responsible_person: $("plant-zone-person").value,
      risk_point_ids: Array.prototype.map.call($("plant-zone-points").querySelectorAll("input:checked"),
                                               function (i) { return Number(i.value); }),
    };
    var layer = pending || selected;
    body.geometry = layer.toGeoJSON().geometry;
    return body;
  }

  function saveZone(confirmRepair) {
    var body = formBody();
    if (confirmRepair) { body.confirm_repair = true; }
    var req = selected
      ? api("PATCH", D.urls.zone + selected.feature.id, Object.assign(body, { version: selected.feature.properties.version }))
      : api("POST", D.urls.zones, body);
    status("正在保存…");
    req.then(function (res) {
      if (res.status === 200 || res.status === 201) {
        var warn = (res.body.warnings || []).map(function (w) { return w.message; }).join("；");
        clearSelection();
        loadZones().then(function () { status("区域“" + res.body.properties.name + "”已保存" + (warn ? "。注意：" + warn : "")); });
      } else if (res.status === 422 && res.body.repaired) {
        repaired = res.body.repaired;
        var layer = pending || selected;
        var shape = L.geoJSON(repaired).getLayers()[0];
        layer.setLatLngs(shape.getLatLngs());
        $("plant-zone-confirm").hidden = false;
        status(res.body.message, true);
      } else if (res.status === 409) {
        status(errorText(res) + "（已重新加载）", true);
        clearSelection();
        loadZones();
      } else {
        status("保存失败：" + errorText(res), true);
      }
    });
  }

  function deleteZone() {
    if (!selected) { return; }
    var f = selected.feature;
    if (!window.confirm("删除风险区域“" + f.properties.name + "”？")) { return; }
    api("DELETE", D.urls.zone + f.id, undefined, { "If-Match": '"v' + f.properties.version + '"' }).then(function (res) {
      if (res.status === 204) {
        clearSelection();
        loadZones().then(function () { status("区域已删除"); });
      } else {
        status("删除失败：" + errorText(res), true);
      }
    });
  }

  function importZones(file) {
    var form = new FormData();
    form.append("file", file);
    if ($("plant-zones-skip").checked) { form.append("skip_bad", "1"); }
    var box = $("plant-import-result");
    box.replaceChildren();
    status("正在导入风险区域…");
    api("POST", D.urls.zones + "/import", form).then(function (res) {
      var b = res.body || {};
      $("plant-zones-file").value = "";
      if (res.status !== 200 && res.status !== 422) { status("导入失败：" + errorText(res), true); return; }
      var summary = b.written ? "已导入：新增 " + b.inserted + " 个、更新 " + b.updated + " 个区域" +
        (b.rejected ? "，跳过 " + b.rejected + " 个有错误的要素" : "")
        : "文件中有 " + b.rejected + " 个要素有错误，未导入任何区域";
      status(summary, !b.written);
      (b.errors || []).forEach(function (e) {
        var p = document.createElement("p");
        p.className = "field-error";
        p.textContent = "第" + e.row + "个要素 " + e.column + "：" + e.reason;
        box.appendChild(p);
      });
      (b.warnings || []).forEach(function (w) {
        var p = document.createElement("p");
        p.textContent = "第" + w.row + "个要素：" + w.message;
        box.appendChild(p);
      });
      if (b.written) { loadZones(); }
    });
  }

  function tools() {
    map.pm.setLang("zh");
    map.pm.addControls({
      position: "topleft", drawMarker: false, drawCircleMarker: false, drawPolyline: false, drawCircle: false,
      drawText: false, cutPolygon: false, rotateMode: false, dragMode: false, editMode: false, removalMode: false,
      drawPolygon: true, drawRectangle: true,
    });
    map.pm.setGlobalOptions({ allowSelfIntersection: true, snappable: true });
    map.on("pm:create", function (e) {
      if (pending) { map.removeLayer(pending); }
      if (selected) { selected.pm.disable(); selected = null; }
      pending = e.layer;
      pending.setStyle({ color: "#111111", weight: 2, dashArray: "4 3", fillOpacity: 0.2 });
      openForm(pending, null);
      status("请填写区域信息并保存");
    });
    $("plant-layout-file").addEventListener("change", function (e) {
      if (e.target.files.length) { uploadLayout(e.target.files[0]); }
    });
    $("plant-layout-save").addEventListener("click", saveLayout);
    $("plant-zones-file").addEventListener("change", function (e) {
      if (e.target.files.length) { importZones(e.target.files[0]); }
    });
    $("plant-zone-form").addEventListener("submit", function (e) { e.preventDefault(); saveZone(false); });
    $("plant-zone-confirm").addEventListener("click", function () { saveZone(true); });
    $("plant-zone-delete").addEventListener("click", deleteZone);
    $("plant-zone-cancel").addEventListener("click", function () {
      clearSelection();
      loadZones();
      status("");
    });
  }

  function init() {
    var el = $("plant-map"), dataEl = $("plant-map-data");
    if (!el || !dataEl || typeof L === "undefined") { return; }
    D = JSON.parse(dataEl.textContent);
    map = L.map(el, { attributionControl: !!D.basemap, scrollWheelZoom: false, maxZoom: 21 });
    el._plantMap = map;
    window.RiskBasemap.add(map, D.basemap, 21);  // the web map's base map (static/js/basemap.js)
    map.setView([D.centre[1], D.centre[0]], 17);
    L.control.scale({ metric: true, imperial: false }).addTo(map);
    L.circleMarker([D.centre[1], D.centre[0]], { radius: 6, color: "#000", weight: 2, fillColor: "#fff",
                                                  fillOpacity: 1, pmIgnore: true })
      .bindTooltip("企业位置").addTo(map);
    zonesLayer = L.geoJSON(null, { style: zoneStyle, onEachFeature: onEachZone, pmIgnore: !D.may_draw }).addTo(map);
    if (D.may_draw && map.pm) { tools(); }
    loadZones(true).then(function () { el.dataset.ready = "1"; });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
