"""Golden outputs: the exact ZPL of every thermal label for the fixed samples (labels.core.samples).

If a layout change is intended, print the new output (`floorsync labels render --doc KIND --sample`), review
the diff line by line (every coordinate here is where the printer puts ink) and paste it here.
"""
from __future__ import annotations

import pytest

from labels import render
from labels.core import samples

GOLDEN = {
    ("shipping", 203): (
        '^XA^CI28^PW812^LL1218^LH0,0\n'
        '^FO24,24^A0N,18,18^FB464,1,4,L,0^FH^FDFROM:^FS\n'
        '^FO24,45^A0N,22,22^FB464,1,4,L,0^FH^FDFloorSync FC Reno^FS\n'
        '^FO24,72^A0N,21,21^FB464,1,4,L,0^FH^FD1200 Logistics Way^FS\n'
        '^FO24,97^A0N,21,21^FB464,1,4,L,0^FH^FDDock 4^FS\n'
        '^FO24,122^A0N,21,21^FB464,1,4,L,0^FH^FDReno, NV 89502^FS\n'
        '^FO24,147^A0N,21,21^FB464,1,4,L,0^FH^FDUS^FS\n'
        '^FO504,24^GB285,144,144,B,0^FS\n'
        '^FO514,55^A0N,68,68^FB264,1,14,C,0^FR^FH^FD2-DAY^FS\n'
        '^FO504,180^A0N,21,21^FB285,1,4,C,0^FH^FDUPS 2nd Day Air^FS\n'
        '^FO24,248^GB764,4,4,B,0^FS\n'
        '^FO24,264^A0N,19,19^FB320,1,4,L,0^FH^FDSHIP TO:^FS\n'
        '^FO64,287^A0N,44,44^FB719,1,9,L,0^FH^FDJane Q. Customer^FS\n'
        '^FO64,339^A0N,37,37^FB719,1,7,L,0^FH^FD742 Evergreen Terrace^FS\n'
        '^FO64,384^A0N,37,37^FB719,1,7,L,0^FH^FDApt 3B^FS\n'
        '^FO64,429^A0N,41,41^FB719,1,8,L,0^FH^FDSpringfield, IL 62704^FS\n'
        '^FO64,478^A0N,37,37^FB719,1,7,L,0^FH^FDUS^FS\n'
        '^FO24,607^GB764,4,4,B,0^FS\n'
        '^FO24,623^GB272,160,160,B,0^FS\n'
        '^FO32,631^A0N,72,72^FB256,1,14,C,0^FR^FH^FDZ5^FS\n'
        '^FO32,731^A0N,27,27^FB256,1,5,C,0^FR^FH^FDROUTE R12^FS\n'
        '^FO320,623^A0N,24,24^FB468,1,5,L,0^FH^FDSHIP DATE: 2026-11-23^FS\n'
        '^FO320,652^A0N,24,24^FB468,1,5,L,0^FH^FDWEIGHT: 2.35 kg (5.2 lb)^FS\n'
        '^FO320,681^A0N,24,24^FB468,1,5,L,0^FH^FDCARTON: BOX-M^FS\n'
        '^FO320,710^A0N,24,24^FB468,1,5,L,0^FH^FDORDER: SO-100234^FS\n'
        '^FO320,738^A0N,24,24^FB468,1,5,L,0^FH^FDSHIPMENT: FO-100234-1^FS\n'
        '^FO24,799^GB764,4,4,B,0^FS\n'
        '^FO24,815^A0N,19,19^FB480,1,4,L,0^FH^FDUPS TRACKING #^FS\n'
        '^FO106,847^BY3^BCN,208,N,N,N^FH^FD>:1Z999AA>51012345678>64^FS\n'
        '^FO24,1067^A0N,29,29^FB764,1,6,C,0^FH^FD1Z99 9AA1 0123 4567 84^FS\n'
        '^FO24,1119^GB764,4,4,B,0^FS\n'
        '^XZ\n'
    ),
    ("shipping", 300): (
        '^XA^CI28^PW1200^LL1800^LH0,0\n'
        '^FO35,35^A0N,26,26^FB685,1,5,L,0^FH^FDFROM:^FS\n'
        '^FO35,67^A0N,33,33^FB685,1,7,L,0^FH^FDFloorSync FC Reno^FS\n'
        '^FO35,106^A0N,31,31^FB685,1,6,L,0^FH^FD1200 Logistics Way^FS\n'
        '^FO35,143^A0N,31,31^FB685,1,6,L,0^FH^FDDock 4^FS\n'
        '^FO35,180^A0N,31,31^FB685,1,6,L,0^FH^FDReno, NV 89502^FS\n'
        '^FO35,217^A0N,31,31^FB685,1,6,L,0^FH^FDUS^FS\n'
        '^FO744,35^GB420,213,213,B,0^FS\n'
        '^FO759,81^A0N,101,101^FB390,1,20,C,0^FR^FH^FD2-DAY^FS\n'
        '^FO744,266^A0N,31,31^FB420,1,6,C,0^FH^FDUPS 2nd Day Air^FS\n'
        '^FO35,366^GB1129,6,6,B,0^FS\n'
        '^FO35,390^A0N,28,28^FB472,1,6,L,0^FH^FDSHIP TO:^FS\n'
        '^FO94,424^A0N,64,64^FB1063,1,13,L,0^FH^FDJane Q. Customer^FS\n'
        '^FO94,501^A0N,55,55^FB1063,1,11,L,0^FH^FD742 Evergreen Terrace^FS\n'
        '^FO94,567^A0N,55,55^FB1063,1,11,L,0^FH^FDApt 3B^FS\n'
        '^FO94,634^A0N,61,61^FB1063,1,12,L,0^FH^FDSpringfield, IL 62704^FS\n'
        '^FO94,707^A0N,55,55^FB1063,1,11,L,0^FH^FDUS^FS\n'
        '^FO35,898^GB1129,6,6,B,0^FS\n'
        '^FO35,921^GB402,236,236,B,0^FS\n'
        '^FO47,933^A0N,106,106^FB378,1,21,C,0^FR^FH^FDZ5^FS\n'
        '^FO47,1081^A0N,40,40^FB378,1,8,C,0^FR^FH^FDROUTE R12^FS\n'
        '^FO472,921^A0N,35,35^FB692,1,7,L,0^FH^FDSHIP DATE: 2026-11-23^FS\n'
        '^FO472,964^A0N,35,35^FB692,1,7,L,0^FH^FDWEIGHT: 2.35 kg (5.2 lb)^FS\n'
        '^FO472,1006^A0N,35,35^FB692,1,7,L,0^FH^FDCARTON: BOX-M^FS\n'
        '^FO472,1049^A0N,35,35^FB692,1,7,L,0^FH^FDORDER: SO-100234^FS\n'
        '^FO472,1091^A0N,35,35^FB692,1,7,L,0^FH^FDSHIPMENT: FO-100234-1^FS\n'
        '^FO35,1181^GB1129,6,6,B,0^FS\n'
        '^FO35,1205^A0N,28,28^FB709,1,6,L,0^FH^FDUPS TRACKING #^FS\n'
        '^FO99,1252^BY5^BCN,307,N,N,N^FH^FD>:1Z999AA>51012345678>64^FS\n'
        '^FO35,1577^A0N,43,43^FB1129,1,9,C,0^FH^FD1Z99 9AA1 0123 4567 84^FS\n'
        '^FO35,1654^GB1129,6,6,B,0^FS\n'
        '^XZ\n'
    ),
    ("sscc", 203): (
        '^XA^CI28^PW812^LL1218^LH0,0\n'
        '^FO24,24^A0N,18,18^FB368,1,4,L,0^FH^FDFROM^FS\n'
        '^FO24,45^A0N,20,20^FB368,1,4,L,0^FH^FDFloorSync FC Reno^FS\n'
        '^FO24,69^A0N,20,20^FB368,1,4,L,0^FH^FD1200 Logistics Way^FS\n'
        '^FO24,93^A0N,20,20^FB368,1,4,L,0^FH^FDDock 4^FS\n'
        '^FO24,117^A0N,20,20^FB368,1,4,L,0^FH^FDReno, NV 89502^FS\n'
        '^FO24,141^A0N,20,20^FB368,1,4,L,0^FH^FDUS^FS\n'
        '^FO416,24^A0N,18,18^FB372,1,4,L,0^FH^FDTO^FS\n'
        '^FO416,45^A0N,24,24^FB372,1,5,L,0^FH^FDBig Retail DC 7^FS\n'
        '^FO416,74^A0N,21,21^FB372,1,4,L,0^FH^FD55 Distribution Pkwy^FS\n'
        '^FO416,99^A0N,21,21^FB372,1,4,L,0^FH^FDColumbus, OH 43215^FS\n'
        '^FO416,124^A0N,21,21^FB372,1,4,L,0^FH^FDUS^FS\n'
        '^FO24,264^GB764,4,4,B,0^FS\n'
        '^FO24,280^A0N,24,24^FB480,1,5,L,0^FH^FDCARRIER: XPO LTL^FS\n'
        '^FO24,308^A0N,24,24^FB480,1,5,L,0^FH^FDPO: PO778899^FS\n'
        '^FO511,280^A0N,40,40^FB277,1,8,R,0^FH^FD2 of 5^FS\n'
        '^FO24,376^GB764,4,4,B,0^FS\n'
        '^FO24,392^A0N,18,18^FB480,1,4,L,0^FH^FDSHIP TO POSTAL CODE^FS\n'
        '^FO226,420^BY4^BCN,120,N,N,N^FH^FD>;>842043215^FS\n'
        '^FO24,547^A0N,24,24^FB764,1,5,C,0^FH^FD(420)43215^FS\n'
        '^FO24,591^GB764,4,4,B,0^FS\n'
        '^FO24,607^A0N,22,22^FB764,1,4,L,0^FH^FDCONTENT GTIN (02): 10614141000415^FS\n'
        '^FO24,634^A0N,22,22^FB764,1,4,L,0^FH^FDCOUNT (37): 24^FS\n'
        '^FO24,661^A0N,22,22^FB764,1,4,L,0^FH^FDPO (400): PO778899^FS\n'
        '^FO129,699^BY2^BCN,120,N,N,N^FH^FD>;>802106141410004153724>8>6400PO>5778899^FS\n'
        '^FO24,827^A0N,22,22^FB764,1,4,C,0^FH^FD(02)10614141000415(37)24(400)PO778899^FS\n'
        '^FO24,871^GB764,4,4,B,0^FS\n'
        '^FO24,887^A0N,19,19^FB320,1,4,L,0^FH^FDSSCC^FS\n'
        '^FO24,919^A0N,34,34^FB764,1,7,C,0^FH^FD(00) 0 0614141 123456789 0^FS\n'
        '^FO94,971^BY4^BCN,216,N,N,N^FH^FD>;>800006141411234567890^FS\n'
        '^XZ\n'
    ),
    ("bin", 203): (
        '^XA^CI28^PW812^LL406^LH0,0\n'
        '^FO24,20^A0N,112,112^FB764,1,22,C,0^FH^FDA-03-12-2^FS\n'
        '^FO24,164^A0N,24,24^FB764,1,5,C,0^FH^FDZONE A _C2_B7 AISLE 03 _C2_B7 BAY 12 _C2_B7 LEVEL 2^FS\n'
        '^FO138,204^BY4^BCN,176,N,N,N^FH^FD>:A-03-12-2^FS\n'
        '^XZ\n'
    ),
    ("sku", 203): (
        '^XA^CI28^PW457^LL254^LH0,0\n'
        '^FO16,12^A0N,19,19^FB425,1,4,L,0^FH^FDOrganic cotton T-shirt, black, size M^FS\n'
        '^FO61,64^BY2^BCN,92,N,N,N^FH^FD>:TSHIRT-BLK-M^FS\n'
        '^FO16,161^A0N,26,26^FB425,1,5,C,0^FH^FDTSHIRT-BLK-M^FS\n'
        '^FO16,200^A0N,16,16^FB425,1,3,C,0^FH^FDGTIN 00614141000418 LOT L2311 EXP 2028-11-30^FS\n'
        '^XZ\n'
    ),
    ("tote", 203): (
        '^XA^CI28^PW812^LL406^LH0,0\n'
        '^FO24,16^A0N,24,24^FB764,1,5,L,0^FH^FDTOTE^FS\n'
        '^FO24,48^A0N,120,120^FB591,1,24,C,0^FH^FDT-0042^FS\n'
        '^FO651,44^BQN,2,4^FH^FDQA,T-0042^FS\n'
        '^FO24,196^A0N,28,28^FB764,1,6,C,0^FH^FDZONE PACK-2 BLUE^FS\n'
        '^FO226,240^BY4^BCN,144,N,N,N^FH^FD>:T->50042^FS\n'
        '^XZ\n'
    ),
    ("cn22", 203): (
        '^XA^CI28^PW591^LL839^LH0,0\n'
        '^FO16,16^GB559,64,64,B,0^FS\n'
        '^FO24,26^A0N,29,29^FB543,1,6,C,0^FR^FH^FDCUSTOMS DECLARATION CN 22^FS\n'
        '^FO24,88^A0N,18,18^FB543,1,4,L,0^FH^FDMay be opened officially^FS\n'
        '^FO24,120^GB24,24,2,B,0^FS\n'
        '^FO56,121^A0N,19,19^FB240,1,4,L,0^FH^FDGift^FS\n'
        '^FO304,120^GB24,24,2,B,0^FS\n'
        '^FO336,121^A0N,19,19^FB240,1,4,L,0^FH^FDDocuments^FS\n'
        '^FO24,155^GB24,24,2,B,0^FS\n'
        '^FO56,156^A0N,19,19^FB240,1,4,L,0^FH^FDCommercial sample^FS\n'
        '^FO304,155^GB24,24,2,B,0^FS\n'
        '^FO336,156^A0N,19,19^FB240,1,4,L,0^FH^FDReturned goods^FS\n'
        '^FO24,190^GB24,24,2,B,0^FS\n'
        '^FO29,195^GB14,14,14,B,0^FS\n'
        '^FO56,191^A0N,19,19^FB240,1,4,L,0^FH^FDSale of goods^FS\n'
        '^FO304,190^GB24,24,2,B,0^FS\n'
        '^FO336,191^A0N,19,19^FB240,1,4,L,0^FH^FDOther^FS\n'
        '^FO16,232^GB559,2,2,B,0^FS\n'
        '^FO24,240^A0N,18,18^FB256,1,4,L,0^FH^FDDescription^FS\n'
        '^FO288,240^A0N,18,18^FB64,1,4,L,0^FH^FDQty^FS\n'
        '^FO360,240^A0N,18,18^FB88,1,4,L,0^FH^FDkg^FS\n'
        '^FO456,240^A0N,18,18^FB112,1,4,L,0^FH^FDValue USD^FS\n'
        '^FO24,268^A0N,18,18^FB256,1,4,L,0^FH^FDOrganic cotton T-shirt^FS\n'
        '^FO288,268^A0N,18,18^FB64,1,4,L,0^FH^FD2^FS\n'
        '^FO360,268^A0N,18,18^FB88,1,4,L,0^FH^FD0.400^FS\n'
        '^FO456,268^A0N,18,18^FB112,1,4,R,0^FH^FD25.00^FS\n'
        '^FO24,290^A0N,15,15^FB543,1,3,L,0^FH^FDHS 610910 Origin PT^FS\n'
        '^FO24,316^A0N,18,18^FB256,1,4,L,0^FH^FDStoneware mug^FS\n'
        '^FO288,316^A0N,18,18^FB64,1,4,L,0^FH^FD1^FS\n'
        '^FO360,316^A0N,18,18^FB88,1,4,L,0^FH^FD0.450^FS\n'
        '^FO456,316^A0N,18,18^FB112,1,4,R,0^FH^FD9.00^FS\n'
        '^FO24,338^A0N,15,15^FB543,1,3,L,0^FH^FDHS 691200 Origin CN^FS\n'
        '^FO16,508^GB559,2,2,B,0^FS\n'
        '^FO24,515^A0N,19,19^FB320,1,4,L,0^FH^FDTotal gross weight 0.850 kg^FS\n'
        '^FO360,515^A0N,19,19^FB208,1,4,R,0^FH^FD34.00 USD^FS\n'
        '^FO24,547^A0N,15,15^FB543,3,3,L,0^FH^FDI certify that the particulars given in this declaration are\\&correct and that this item does not contain any dangerous article\\&prohibited by legislation or by postal regulations.^FS\n'
        '^FO24,606^A0N,18,18^FB543,1,4,L,0^FH^FDDate: 2026-11-23 Signature: FloorSync FC Reno^FS\n'
        '^FO61,687^BY3^BCN,96,N,N,N^FH^FD>:LX>512345678>65US^FS\n'
        '^FO24,791^A0N,19,19^FB543,1,4,C,0^FH^FDLX123456785US^FS\n'
        '^XZ\n'
    ),
}

# ESC/POS bytes of the sample packing slip, 80 mm receipt form (default template)
GOLDEN_RECEIPT = (
    b'\x1b@\x1b!\x00\x1b!\x00\x1b!0\x1bE\x01\x1ba\x01\x1bt\x00PACKING SLIP\n'
    b'\x1b!\x00\x1b!\x00\x1b!\x00\x1bE\x01\x1ba\x00Order SO-100234                       2026-11-23\n'
    b'\x1b!\x00\x1b!\x00\x1b!\x00\x1bE\x00\x1ba\x00Shipment FO-100234-1\n'
    b'\x1b!\x00\x1b!\x00\x1b!\x00\x1bE\x01\x1ba\x00Ship to:\n'
    b'\x1b!\x00\x1b!\x00\x1b!\x00\x1bE\x00\x1ba\x00Jane Q. Customer\n'
    b'\x1b!\x00\x1b!\x00\x1b!\x00\x1bE\x00\x1ba\x00742 Evergreen Terrace\n'
    b'\x1b!\x00\x1b!\x00\x1b!\x00\x1bE\x00\x1ba\x00Apt 3B\n'
    b'\x1b!\x00\x1b!\x00\x1b!\x00\x1bE\x00\x1ba\x00Springfield, IL 62704\n'
    b'\x1b!\x00\x1b!\x00\x1b!\x00\x1bE\x00\x1ba\x00US\n'
    b'\x1b!\x00\x1b!\x00\x1b!\x00\x1bE\x00\x1ba\x00------------------------------------------------\n'
    b'\x1b!\x00\x1b!\x00\x1b!\x00\x1bE\x01\x1ba\x002 x     TSHIRT-BLK-M\n'
    b'\x1b!\x00\x1b!\x00\x1b!\x00\x1bE\x00\x1ba\x00        Organic cotton T-shirt, black, size M\n'
    b'\x1b!\x00\x1b!\x00\x1b!\x00\x1bE\x01\x1ba\x001 x     MUG-12OZ\n'
    b'\x1b!\x00\x1b!\x00\x1b!\x00\x1bE\x00\x1ba\x00        Stoneware mug 12 oz\n'
    b'\x1b!\x00\x1b!\x00\x1b!\x00\x1bE\x01\x1ba\x003 x     STICKER-PK\n'
    b'\x1b!\x00\x1b!\x00\x1b!\x00\x1bE\x00\x1ba\x00        Sticker pack (5)\n'
    b'\x1b!\x00\x1b!\x00\x1b!\x00\x1bE\x00\x1ba\x00------------------------------------------------\n'
    b'\x1b!\x00\x1b!\x00\x1b!\x00\x1bE\x01\x1ba\x00                                        Items: 6\n'
    b'\x1b!\x00\x1b!\x00\x1b!\x00\x1bE\x00\x1ba\x00Note: Leave at the side door, please.\n'
    b'\x1b!\x00\x1b!\x00\x1b!\x00\x1bE\x00\x1ba\x01\x1ba\x01\x1dhP\x1dw\x02\x1df\x00\x1dH\x00\x1dkI\x0b{BSO-100234\x1b!\x00\x1b!\x00\x1b!\x00\x1bE\x00\x1ba\x01SO-100234\n'
    b'\n'
    b'\n'
    b'\n'
    b'\x1bd\x06\x1dV\x00'
)

# Every text line of each letter-size document's layout, in drawing order (page, element name, lines)
GOLDEN_SHEETS = {
    "packing": [
        (0, 'title', ('PACKING SLIP',)),
        (0, 'fact0', ('Order SO-100234',)),
        (0, 'fact1', ('Order date 2026-11-23',)),
        (0, 'fact2', ('Shipment FO-100234-1',)),
        (0, 'order_barcode_hri', ('SO-100234',)),
        (0, 'ship_to_title', ('SHIP TO',)),
        (0, 'to_name', ('Jane Q. Customer',)),
        (0, 'to_street0', ('742 Evergreen Terrace',)),
        (0, 'to_street1', ('Apt 3B',)),
        (0, 'to_city', ('Springfield, IL 62704',)),
        (0, 'to_country', ('US',)),
        (0, 'th', ('SKU',)),
        (0, 'th', ('DESCRIPTION',)),
        (0, 'th', ('QTY',)),
        (0, 'line0_sku', ('TSHIRT-BLK-M',)),
        (0, 'line0_desc', ('Organic cotton T-shirt, black, size M',)),
        (0, 'line0_qty', ('2',)),
        (0, 'line1_sku', ('MUG-12OZ',)),
        (0, 'line1_desc', ('Stoneware mug 12 oz',)),
        (0, 'line1_qty', ('1',)),
        (0, 'line2_sku', ('STICKER-PK',)),
        (0, 'line2_desc', ('Sticker pack (5)',)),
        (0, 'line2_qty', ('3',)),
        (0, 'total', ('Total items: 6',)),
        (0, 'customer_note', ('Note: Leave at the side door, please.',)),
        (0, 'footer', ('Packing slip SO-100234 - page 1 of 1',)),
    ],
    "picklist": [
        (0, 'title', ('PICK LIST PL-20261123-007',)),
        (0, 'fact0', ('Site reno Lines 6 Units 12',)),
        (0, 'fact1', ('Picker maria',)),
        (0, 'fact2', ('Created 2026-11-23 09:15',)),
        (0, 'doc_barcode_hri', ('PL-20261123-007',)),
        (0, 'th', ('#',)),
        (0, 'th', ('LOCATION',)),
        (0, 'th', ('SKU',)),
        (0, 'th', ('DESCRIPTION',)),
        (0, 'th', ('QTY',)),
        (0, 'th', ('OK',)),
        (0, 'row1_seq', ('1',)),
        (0, 'row1_location', ('A-01-02-1',)),
        (0, 'row1_sku', ('SOCKS-L',)),
        (0, 'row1_desc', ('Merino socks, large',)),
        (0, 'row1_order', ('Order SO-100203',)),
        (0, 'row1_qty', ('1',)),
        (0, 'row2_seq', ('2',)),
        (0, 'row2_location', ('A-03-12-2',)),
        (0, 'row2_sku', ('TSHIRT-BLK-M',)),
        (0, 'row2_desc', ('Organic cotton T-shirt,', 'black, size M')),
        (0, 'row2_order', ('Order SO-100201',)),
        (0, 'row2_qty', ('2',)),
        (0, 'row3_seq', ('3',)),
        (0, 'row3_location', ('B-02-05-1',)),
        (0, 'row3_sku', ('CAP-RED',)),
        (0, 'row3_desc', ('Baseball cap, red',)),
        (0, 'row3_order', ('Order SO-100201',)),
        (0, 'row3_qty', ('3',)),
        (0, 'row4_seq', ('4',)),
        (0, 'row4_location', ('B-07-01-3',)),
        (0, 'row4_sku', ('STICKER-PK',)),
        (0, 'row4_desc', ('Sticker pack (5)',)),
        (0, 'row4_order', ('Order SO-100202',)),
        (0, 'row4_qty', ('3',)),
        (0, 'row5_seq', ('5',)),
        (0, 'row5_location', ('C-01-04-1',)),
        (0, 'row5_sku', ('MUG-12OZ',)),
        (0, 'row5_desc', ('Stoneware mug 12 oz',)),
        (0, 'row5_order', ('Order SO-100200',)),
        (0, 'row5_qty', ('1',)),
        (0, 'row6_seq', ('6',)),
        (0, 'row6_location', ('D-02-09-4',)),
        (0, 'row6_sku', ('POSTER-A2',)),
        (0, 'row6_desc', ('Art print poster A2,', 'rolled')),
        (0, 'row6_order', ('Order SO-100200',)),
        (0, 'row6_qty', ('2',)),
        (0, 'footer', ('Pick list PL-20261123-007 - page 1 of 1',)),
    ],
    "manifest": [
        (0, 'title', ('CARRIER MANIFEST',)),
        (0, 'fact0', ('Carrier UPS',)),
        (0, 'fact1', ('Site reno FC Reno',)),
        (0, 'fact2', ('Ship date 2026-11-23',)),
        (0, 'doc_barcode_hri', ('MF-UPS-20261123',)),
        (0, 'th', ('#',)),
        (0, 'th', ('TRACKING',)),
        (0, 'th', ('ORDER',)),
        (0, 'th', ('SERVICE',)),
        (0, 'th', ('CARTONS',)),
        (0, 'th', ('KG',)),
        (0, 'row1_n', ('1',)),
        (0, 'row1_tracking', ('1Z999AA10123456780',)),
        (0, 'row1_order', ('SO-100000',)),
        (0, 'row1_service', ('Ground',)),
        (0, 'row1_cartons', ('1',)),
        (0, 'row1_kg', ('0.50',)),
        (0, 'row2_n', ('2',)),
        (0, 'row2_tracking', ('1Z999AA10123456781',)),
        (0, 'row2_order', ('SO-100001',)),
        (0, 'row2_service', ('2nd Day Air',)),
        (0, 'row2_cartons', ('2',)),
        (0, 'row2_kg', ('0.62',)),
        (0, 'row3_n', ('3',)),
        (0, 'row3_tracking', ('1Z999AA10123456782',)),
        (0, 'row3_order', ('SO-100002',)),
        (0, 'row3_service', ('Ground',)),
        (0, 'row3_cartons', ('1',)),
        (0, 'row3_kg', ('0.75',)),
        (0, 'row4_n', ('4',)),
        (0, 'row4_tracking', ('1Z999AA10123456783',)),
        (0, 'row4_order', ('SO-100003',)),
        (0, 'row4_service', ('2nd Day Air',)),
        (0, 'row4_cartons', ('2',)),
        (0, 'row4_kg', ('0.88',)),
        (0, 'row5_n', ('5',)),
        (0, 'row5_tracking', ('1Z999AA10123456784',)),
        (0, 'row5_order', ('SO-100004',)),
        (0, 'row5_service', ('Ground',)),
        (0, 'row5_cartons', ('1',)),
        (0, 'row5_kg', ('1.00',)),
        (0, 'row6_n', ('6',)),
        (0, 'row6_tracking', ('1Z999AA10123456785',)),
        (0, 'row6_order', ('SO-100005',)),
        (0, 'row6_service', ('2nd Day Air',)),
        (0, 'row6_cartons', ('2',)),
        (0, 'row6_kg', ('1.12',)),
        (0, 'row7_n', ('7',)),
        (0, 'row7_tracking', ('1Z999AA10123456786',)),
        (0, 'row7_order', ('SO-100006',)),
        (0, 'row7_service', ('Ground',)),
        (0, 'row7_cartons', ('1',)),
        (0, 'row7_kg', ('1.25',)),
        (0, 'row8_n', ('8',)),
        (0, 'row8_tracking', ('1Z999AA10123456787',)),
        (0, 'row8_order', ('SO-100007',)),
        (0, 'row8_service', ('2nd Day Air',)),
        (0, 'row8_cartons', ('2',)),
        (0, 'row8_kg', ('1.38',)),
        (0, 'total_shipments', ('TOTAL 8 shipments',)),
        (0, 'total_cartons', ('12',)),
        (0, 'total_kg', ('7.50',)),
        (0, 'sign_driver', ('Driver signature',)),
        (0, 'sign_printed', ('Printed name',)),
        (0, 'sign_date', ('Date / time',)),
        (0, 'footer', ('Manifest MF-UPS-20261123 - page 1 of 1',)),
    ],
    "invoice": [
        (0, 'title', ('COMMERCIAL INVOICE',)),
        (0, 'fact0', ('Invoice CI-100234 Date 2026-11-23',)),
        (0, 'fact1', ('Incoterms DAP Reason sale of goods Currency USD',)),
        (0, 'fact2', ('Order SO-100234',)),
        (0, 'doc_barcode_hri', ('1Z999AA10123456784',)),
        (0, 'shipper_title', ('SHIPPER / EXPORTER',)),
        (0, 'shipper_name', ('FloorSync FC Reno',)),
        (0, 'shipper_street0', ('1200 Logistics Way',)),
        (0, 'shipper_street1', ('Dock 4',)),
        (0, 'shipper_city', ('Reno, NV 89502',)),
        (0, 'shipper_country', ('US',)),
        (0, 'consignee_title', ('CONSIGNEE',)),
        (0, 'consignee_name', ('Émilie Durand',)),
        (0, 'consignee_street0', ('12 Rue de la Paix',)),
        (0, 'consignee_city', ('Paris 75002',)),
        (0, 'consignee_country', ('FR',)),
        (0, 'th', ('DESCRIPTION',)),
        (0, 'th', ('HS CODE',)),
        (0, 'th', ('ORIGIN',)),
        (0, 'th', ('QTY',)),
        (0, 'th', ('UNIT USD',)),
        (0, 'th', ('TOTAL',)),
        (0, 'th', ('KG',)),
        (0, 'item0_desc', ('Organic cotton T-shirt',)),
        (0, 'item0_hs', ('610910',)),
        (0, 'item0_origin', ('PT',)),
        (0, 'item0_qty', ('2',)),
        (0, 'item0_unit', ('12.50',)),
        (0, 'item0_total', ('25.00',)),
        (0, 'item0_kg', ('0.400',)),
        (0, 'item1_desc', ('Stoneware mug',)),
        (0, 'item1_hs', ('691200',)),
        (0, 'item1_origin', ('CN',)),
        (0, 'item1_qty', ('1',)),
        (0, 'item1_unit', ('9.00',)),
        (0, 'item1_total', ('9.00',)),
        (0, 'item1_kg', ('0.450',)),
        (0, 'total_value', ('TOTAL VALUE 34.00 USD',)),
        (0, 'total_kg', ('0.850 kg',)),
        (0, 'declaration', ('I declare that the information on this invoice is true and correct and that the contents of this shipment', 'are as stated above.')),
        (0, 'signature', ('Signature (FloorSync FC Reno)',)),
        (0, 'footer', ('Commercial invoice CI-100234 - page 1 of 1',)),
    ],
}


@pytest.mark.parametrize("kind,dpi", sorted(GOLDEN))
def test_label_zpl_is_exactly_the_golden(kind, dpi):
    assert render.to_zpl(samples.sample(kind), dpi=dpi).decode("ascii") == "".join(GOLDEN[(kind, dpi)])


def test_golden_labels_are_one_format_each_with_utf8():
    for (kind, dpi), lines in GOLDEN.items():
        text = "".join(lines)
        assert text.count("^XA") == 1 and text.count("^XZ") == 1, kind
        assert text.startswith("^XA^CI28^PW"), kind
        assert text.count("^FD") == text.count("^FS") - text.count("^GB"), kind
        assert text.count("^FD") == text.count("^FH^FD"), kind  # every field through ^FH


def test_packing_slip_receipt_escpos_is_exactly_the_golden():
    assert render.to_escpos(samples.packing()) == GOLDEN_RECEIPT


@pytest.mark.parametrize("kind", sorted(GOLDEN_SHEETS))
def test_sheet_layout_text_is_exactly_the_golden(kind):
    from labels.core import layouts

    lay = layouts.layout(samples.sample(kind))
    got = [(n, el.name, el.lines) for n, p in enumerate(lay.pages) for el in p.elements if hasattr(el, "lines")]
    assert got == GOLDEN_SHEETS[kind]


@pytest.mark.parametrize("kind", sorted(GOLDEN_SHEETS))
def test_sheet_pdf_contains_the_golden_text(kind, tmp_path):
    import subprocess

    pdf = tmp_path / "doc.pdf"
    pdf.write_bytes(render.to_pdf(samples.sample(kind)))
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True,
                          text=True, timeout=60).stdout
    flat = " ".join(text.split())
    for _page, name, lines in GOLDEN_SHEETS[kind]:
        for line in lines:
            assert " ".join(line.split()) in flat, (name, line)
