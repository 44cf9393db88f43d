/* ZSOM dashboard, browser side: hexagon tiling, timeline playback, debounced settings,
 * and the composed PNG export. Loaded by Dash from assets/; Plotly is the global one that
 * Dash serves from plotly's package (no CDN). */
(function () {
    "use strict";

    var HEX_TILE = "hex-tile";
    // Plotly's "hexagon" symbol is pointy-top with circumradius size / 2; rows of units one
    // unit apart tile the plane when size = 2 / sqrt(3) units. The extra fraction of a pixel
    // hides anti-aliasing seams between neighbours.
    var HEX_SIZE_PER_UNIT = 2 / Math.sqrt(3);
    var HEX_OVERLAP_PX = 0.6;
    var DEBOUNCE_MS = 400;
    // Playing shows a whole run in about this long, however many epochs it has: a slow
    // server shows fewer of them (each step waits for the last one shown), never more late.
    var PLAY_DURATION_MS = 15000;
    var PLAY_RETRY_MS = 5000;

    function hexTraceIndices(gd) {
        var indices = [];
        (gd.data || []).forEach(function (trace, i) {
            if (trace && trace.meta === HEX_TILE) { indices.push(i); }
        });
        return indices;
    }

    /* Size the hexagon markers of a graph so that they tile its map exactly. Returns a
     * promise that settles once the graph is redrawn (or at once when nothing changed). */
    function fitHexMarkers(gd) {
        var full = gd._fullLayout;
        var indices = hexTraceIndices(gd);
        if (!indices.length || !full || !full.xaxis || !full.xaxis._length) { return Promise.resolve(); }
        var range = full.xaxis.range;
        var pxPerUnit = full.xaxis._length / Math.abs(range[1] - range[0]);
        var size = pxPerUnit * HEX_SIZE_PER_UNIT + HEX_OVERLAP_PX;
        gd.__zsomHexSize = size;
        var stale = indices.filter(function (i) {
            var marker = gd.data[i].marker || {};
            return typeof marker.size !== "number" || Math.abs(marker.size - size) > 0.25;
        });
        if (!stale.length) { return Promise.resolve(); }
        return window.Plotly.restyle(gd, {"marker.size": size}, stale);
    }

    /* Each epoch's patch gives dcc.Graph a figure with the server's nominal marker size;
     * drawing it and then resizing the hexagons would draw every map twice. Plotly.react
     * is wrapped once to put the last fitted size into the figure before it is drawn. */
    function keepHexSizes(Plotly) {
        if (Plotly.__zsomWrapped) { return; }
        var react = Plotly.react;
        Plotly.react = function (gd, spec) {
            var size = gd && gd.__zsomHexSize;
            if (size && spec && Array.isArray(spec.data)) {
                var data = spec.data.map(function (trace) {
                    if (!trace || trace.meta !== HEX_TILE) { return trace; }
                    return Object.assign({}, trace, {marker: Object.assign({}, trace.marker, {size: size})});
                });
                arguments[1] = Object.assign({}, spec, {data: data});
            }
            return react.apply(this, arguments);
        };
        Plotly.__zsomWrapped = true;
    }

    function hookGraph(gd) {
        if (gd.__zsomHooked || typeof gd.on !== "function") { return; }
        gd.__zsomHooked = true;
        gd.on("plotly_afterplot", function () { fitHexMarkers(gd); });
        fitHexMarkers(gd);
    }

    // dcc.Graph creates its plot divs when it mounts; hook each one as it appears.
    setInterval(function () {
        if (window.Plotly) { keepHexSizes(window.Plotly); }
        document.querySelectorAll(".js-plotly-plot").forEach(hookGraph);
    }, 300);

    // A slider's value box commits on blur; let Enter commit it too, as people expect.
    document.addEventListener("keydown", function (event) {
        if (event.key === "Enter" && event.target.classList && event.target.classList.contains("dash-range-slider-input")) {
            event.target.blur();
        }
    });

    /* The upload's size limit, checked before the browser reads the file. dcc.Upload drops
     * an oversized file without a word; this says why, next to the upload. Listeners on
     * the document's capture phase run before React's, so the file is never read. */
    function refuseOversizedFile(event, files) {
        var holder = event.target && event.target.closest && event.target.closest(".upload-holder");
        if (!holder || !files || !files.length) { return; }
        var limit = Number(holder.getAttribute("data-max-bytes"));
        var file = files[0];
        if (!limit || file.size <= limit) { return; }
        event.preventDefault();
        event.stopPropagation();
        if (event.target.value) { event.target.value = ""; }
        var mb = function (bytes) { return (bytes / 1048576).toFixed(1) + " MB"; };
        window.dash_clientside.set_props("upload-message", {
            children: {type: "Span", namespace: "dash_html_components", props: {
                className: "error",
                children: file.name.slice(0, 80) + ": the file is " + mb(file.size) + ", larger than the limit of " +
                    mb(limit) + ". Simplify or decimate the mesh and try again."}}
        });
    }
    document.addEventListener("change", function (event) {
        if (event.target && event.target.type === "file") { refuseOversizedFile(event, event.target.files); }
    }, true);
    document.addEventListener("drop", function (event) {
        refuseOversizedFile(event, event.dataTransfer && event.dataTransfer.files);
    }, true);

    function graphDiv(id) {
        var container = document.getElementById(id);
        if (!container) { return null; }
        return container.classList.contains("js-plotly-plot") ? container : container.querySelector(".js-plotly-plot");
    }

    /* A PNG data URL of one panel rendered at width x height CSS pixels: the panel is drawn
     * again off screen at that size (so hexagons tile at that size too), then exported. */
    function renderPanel(gd, width, height, scale) {
        var holder = document.createElement("div");
        holder.style.cssText = "position:fixed;left:-30000px;top:0;width:" + width + "px;height:" + height + "px;";
        document.body.appendChild(holder);
        // Traces share their arrays with the live graph; marker objects are copied because
        // resizing hexagons for the export must not touch the graph on screen.
        var data = gd.data.map(function (trace) {
            var copy = Object.assign({}, trace);
            if (trace.marker) { copy.marker = Object.assign({}, trace.marker); }
            return copy;
        });
        var layout = JSON.parse(JSON.stringify(gd.layout));
        layout.width = width;
        layout.height = height;
        layout.autosize = false;
        var Plotly = window.Plotly;
        return Plotly.newPlot(holder, data, layout, {staticPlot: true, displayModeBar: false})
            .then(function () { return fitHexMarkers(holder); })
            .then(function () { return Plotly.toImage(holder, {format: "png", width: width, height: height, scale: scale}); })
            .finally(function () { Plotly.purge(holder); holder.remove(); });
    }

    function loadImage(url) {
        return new Promise(function (resolve, reject) {
            var image = new Image();
            image.onload = function () { resolve(image); };
            image.onerror = function () { reject(new Error("a panel could not be rendered")); };
            image.src = url;
        });
    }

    function statusText() {
        var status = document.getElementById("status-line");
        return status ? status.innerText.replace(/\s+/g, " ").trim() : "";
    }

    function downloadCanvas(canvas, filename) {
        return new Promise(function (resolve, reject) {
            canvas.toBlob(function (blob) {
                if (!blob) { reject(new Error("the figure could not be encoded")); return; }
                var url = URL.createObjectURL(blob);
                var link = document.createElement("a");
                link.href = url;
                link.download = filename;
                document.body.appendChild(link);
                link.click();
                link.remove();
                setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
                resolve();
            }, "image/png");
        });
    }

    function safeName(text) {
        return String(text || "data").replace(/[^A-Za-z0-9_.-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 60) || "data";
    }

    /* All panels of the chosen epoch as one PNG, laid out by the server's export spec. */
    function composeFigure(view, spec) {
        var tileW = spec.tile[0], tileH = spec.tile[1], scale = spec.scale;
        var canvas = document.createElement("canvas");
        canvas.width = spec.columns * tileW * scale;
        canvas.height = (spec.header + spec.rows * tileH) * scale;
        var context = canvas.getContext("2d");
        context.fillStyle = "#ffffff";
        context.fillRect(0, 0, canvas.width, canvas.height);
        context.fillStyle = "#111827";
        context.font = "600 " + (20 * scale) + "px Inter, 'Segoe UI', system-ui, sans-serif";
        context.textBaseline = "middle";
        var title = "ZSOM: " + (view.label || "data") + (view.epoch ? ", epoch " + view.epoch : "");
        context.fillText(title, 16 * scale, spec.header * scale * 0.34);
        context.fillStyle = "#4b5563";
        context.font = (13 * scale) + "px Inter, 'Segoe UI', system-ui, sans-serif";
        context.fillText(statusText(), 16 * scale, spec.header * scale * 0.74, canvas.width - 32 * scale);

        // One panel after the other: each off-screen WebGL scene is freed before the next.
        return spec.cells.reduce(function (previous, cell) {
            return previous.then(function () {
                var gd = graphDiv(cell.panel);
                if (!gd || !gd.data) { return null; }
                var width = tileW * cell.span;
                return renderPanel(gd, width, tileH, scale).then(loadImage).then(function (image) {
                    context.drawImage(image, cell.column * tileW * scale, (spec.header + cell.row * tileH) * scale,
                                      width * scale, tileH * scale);
                });
            });
        }, Promise.resolve()).then(function () {
            var name = "zsom-" + safeName(view.label) + (view.epoch ? "-epoch-" + view.epoch : "") + ".png";
            return downloadCanvas(canvas, name).then(function () { return name; });
        });
    }

    var settingsToken = 0;
    // The timeline player: when it started, from and to which epoch, and the step it sent last.
    var player = {started: 0, from: 1, to: 1, sent: null, sentAt: 0};
    // The page's poll of the server (see callbacks/run_page.py): the answer counted last,
    // when it arrived, when the last poll went out, and whether its answer is awaited.
    var poll = {seq: null, answeredAt: 0, sentAt: 0, awaiting: false};

    window.dash_clientside = window.dash_clientside || {};
    window.dash_clientside.zsom = {
        play: function (_clicks, _ticks, value, max, stopped) {
            var noUpdate = window.dash_clientside.no_update;
            var trigger = window.dash_clientside.callback_context.triggered_id;
            var now = Date.now();
            value = value || 1;
            max = max || 1;
            if (trigger === "play-button") {
                if (!stopped || max <= 1) { return [noUpdate, true, "\u25B6"]; }
                var from = value >= max ? 1 : value;
                player = {started: now, from: from, to: max, sent: from, sentAt: now};
                return [value >= max ? 1 : noUpdate, false, "\u275A\u275A"];
            }
            if (value >= player.to) { return [noUpdate, true, "\u25B6"]; }
            if (value !== player.sent && now - player.sentAt < PLAY_RETRY_MS) { return [noUpdate, false, noUpdate]; }
            var share = Math.min(1, (now - player.started) / PLAY_DURATION_MS);
            var target = Math.max(value + 1, Math.round(player.from + share * (player.to - player.from)));
            player.sent = Math.min(player.to, target);
            player.sentAt = now;
            return [player.sent, false, noUpdate];
        },

        /* Whether the page's poll of the server is due: poll_ms after the last answer,
         * or retry_ms after a request whose answer never came. A request the page sends
         * for another reason (a click, a setting, a timeline move, not the server's own
         * echo of the timeline or the run menu) postpones the poll until its answer, so
         * that Dash, which keeps only the newest of overlapping calls, does not drop it. */
        pacePoll: function () {
            var context = window.dash_clientside.callback_context;
            var inputs = context.inputs_list;
            var view = arguments[arguments.length - 1] || {};
            var now = Date.now();
            var fired = {};
            context.triggered.forEach(function (item) { fired[item.prop_id] = true; });
            var firedAt = function (i) { return fired[inputs[i].id + "." + inputs[i].property]; };
            if (view.seq !== poll.seq) {
                poll.seq = view.seq;
                poll.answeredAt = now;
                poll.awaiting = false;
            }
            var last = inputs.length - 1;
            var echo = (firedAt(last - 1) && inputs[last - 1].value === Math.max(view.epoch || 0, 1)) ||
                       (firedAt(last) && inputs[last].value === view.run);
            var asked = false;
            for (var i = 1; i <= last; i++) { asked = asked || Boolean(firedAt(i)); }
            if (asked && !echo) {
                poll.awaiting = true;
                poll.sentAt = now;
            }
            if (!firedAt(0)) { return window.dash_clientside.no_update; }
            var due = poll.awaiting ? now - poll.sentAt >= (view.retry_ms || 5000)
                                    : now - poll.answeredAt >= (view.poll_ms || 1000);
            if (!due) { return window.dash_clientside.no_update; }
            poll.awaiting = true;
            poll.sentAt = now;
            return now;
        },

        debounceSettings: function () {
            var token = ++settingsToken;
            return new Promise(function (resolve) {
                setTimeout(function () {
                    resolve(token === settingsToken ? Date.now() : window.dash_clientside.no_update);
                }, DEBOUNCE_MS);
            });
        },

        showWhenMinkowski: function (metric) {
            return metric === "minkowski" ? {} : {display: "none"};
        },

        exportFigure: function (_clicks, view, spec) {
            if (!window.Plotly || !spec) { return "export is not available"; }
            return composeFigure(view || {}, spec).then(function (name) {
                return "Saved " + name;
            }, function (error) {
                return "Export failed: " + error.message;
            });
        }
    };

    window.zsom = {fitHexMarkers: fitHexMarkers, composeFigure: composeFigure};
})();
