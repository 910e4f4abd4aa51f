# The order of the hot loop's global loads (LDG), tensor-core (HMMA), shared-memory (LDSM, STS) and barrier (BAR)
# instructions in an Nsight Compute source page (--page source --csv --print-source sass), runs of one kind counted.
import csv,sys
rows=list(csv.reader(open(sys.argv[1])))
h=rows[1]; idx={n:i for i,n in enumerate(h)}
seq=[]
for i,r in enumerate(rows[2:]):
    if len(r)<10: continue
    ex=int(r[idx['Instructions Executed']] or 0)
    t=r[1].strip().split()
    op=t[1] if t[0].startswith('@') else t[0]
    if ex>100000 and op.split('.')[0] in ('LDG','HMMA','BAR','STS','LDSM'):
        seq.append(op.split('.')[0])
out=[];prev=None;n=0
for s in seq:
    if s==prev: n+=1
    else:
        if prev: out.append(f"{prev}x{n}")
        prev=s;n=1
out.append(f"{prev}x{n}")
print(' '.join(out))
