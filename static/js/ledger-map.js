/* Small Leaflet maps of the ledger pages: an enterprise and its surroundings,
 * a hazard's location, and the location picker of the registration forms.
 * Reads its data from <script type="application/json" id="ledger-map-data">.
 * No external tiles unless the server configured a remote base map. */
(function () {
  "use strict";

  function grade(data, value) {
    return (value && data.palette && data.palette[value]) || "#888888";
  }

  function init() {
    var el = document.getElementById("ledger-map");
    var dataEl = document.getElementById("ledger-map-data");
    if (!el || !dataEl || typeof L === "undefined") { return; }
    var data = JSON.parse(dataEl.textContent);
    var map = L.map(el, { attributionControl: !!data.basemap, scrollWheelZoom: false });
    el._ledgerMap = map;
    // the same base map as the web map (static/js/basemap.js), local file included
    el._ledgerBasemap = window.RiskBasemap.add(map, data.basemap, 18);
    // Set the view before adding vector layers: Leaflet projects them on add.
    var outline = null;
    if (data.outline) {
      outline = L.geoJSON(data.outline, {
        interactive: false,
        style: { color: "#1f3a5f", weight: 1.5, fillColor: "#e8edf3", fillOpacity: 0.6 }
      });
    }
    var bounds = outline ? outline.getBounds() : null;
    if (data.centre) {
      map.setView([data.centre[1], data.centre[0]], data.zoom || 14);
    } else if (bounds && bounds.isValid()) {
      map.fitBounds(bounds);
    } else {
      map.setView([35, 105], 4);
    }
    if (outline) { outline.addTo(map); }
    var main = null;
    (data.points || []).forEach(function (p) {
      var colour = p.hazard_level ? (p.hazard_level === "major" ? "#B00020" : "#E07000") : grade(data, p.grade);
      var marker = L.circleMarker([p.lat, p.lng], {
        radius: p.main ? 9 : 6, color: p.main ? "#000" : "#333", weight: p.main ? 2 : 1,
        fillColor: colour, fillOpacity: 0.9
      }).addTo(map);
      var label = document.createElement("span");
      if (p.url) {
        var a = document.createElement("a");
        a.href = p.url;
        a.textContent = p.name;
        label.appendChild(a);
      } else {
        label.textContent = p.name;
      }
      if (p.distance_m !== undefined) { label.appendChild(document.createTextNode("（" + p.distance_m + " 米）")); }
      marker.bindPopup(label);
      if (p.main) { main = [p.lat, p.lng]; }
    });
    if (main && data.radius_m) {
      L.circle(main, { radius: data.radius_m, color: "#1f3a5f", weight: 1, dashArray: "4 4", fill: false,
                       interactive: false }).addTo(map);
    }
    if (data.picker) { picker(map, data.picker, main); }
  }

  function picker(map, cfg, start) {
    var lngInput = document.getElementById("f-" + cfg.lng);
    var latInput = document.getElementById("f-" + cfg.lat);
    var toggle = cfg.toggle ? document.getElementById("f-" + cfg.toggle) : null;
    if (!lngInput || !latInput) { return; }
    var marker = null;
    function place(latlng) {
      if (!marker) {
        marker = L.marker(latlng, { draggable: true, keyboard: true, title: "拖动以调整位置" }).addTo(map);
        marker.on("dragend", function () { write(marker.getLatLng()); });
      } else {
        marker.setLatLng(latlng);
      }
    }
    function write(latlng) {
      lngInput.value = latlng.lng.toFixed(6);
      latInput.value = latlng.lat.toFixed(6);
      if (toggle) { toggle.checked = true; }
    }
    function read() {
      var lng = parseFloat(lngInput.value), lat = parseFloat(latInput.value);
      if (isFinite(lng) && isFinite(lat)) { place([lat, lng]); }
    }
    read();
    map.on("click", function (e) { place(e.latlng); write(e.latlng); });
    lngInput.addEventListener("change", read);
    latInput.addEventListener("change", read);
    // The phone's position (the Geolocation API gives WGS84), or the enterprise's point.
    var gps = document.getElementById("use-gps");
    var own = document.getElementById("use-enterprise");
    var note = document.getElementById("gps-status");
    function say(text) { if (note) { note.textContent = text; } }
    if (gps) {
      gps.addEventListener("click", function () {
        if (!navigator.geolocation) { say("此设备不支持定位，请在地图上点选"); return; }
        say("正在定位…");
        navigator.geolocation.getCurrentPosition(function (pos) {
          var latlng = L.latLng(pos.coords.latitude, pos.coords.longitude);
          var datum = document.getElementById("f-datum");
          if (datum) { datum.value = "wgs84"; }
          place(latlng);
          write(latlng);
          map.setView(latlng, Math.max(map.getZoom(), 16));
          say("已定位（精度约 " + Math.round(pos.coords.accuracy) + " 米）");
        }, function (err) {
          say("定位失败：" + (err.code === 1 ? "未允许定位" : "无法取得位置") + "，可在地图上点选");
        }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
      });
    }
    if (own) {
      own.addEventListener("click", function () {
        if (toggle) { toggle.checked = false; }
        lngInput.value = "";
        latInput.value = "";
        if (marker) { map.removeLayer(marker); marker = null; }
        if (start) { map.setView(start, Math.max(map.getZoom(), 16)); }
        say("使用企业位置");
      });
    }
    if (toggle && start) {
      toggle.addEventListener("change", function () {
        if (toggle.checked && !lngInput.value && !latInput.value) {
          place(start);
          write(L.latLng(start[0], start[1]));
        }
      });
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
